"""The chat benchmark's data: one owner and one finished estimate per chatting user, made without Claude.

Estimating 150 saves through the simulator at a model's speed would spend a quarter of an hour of Tier 2
output before the benchmark starts, so saves are written the way the worker writes them: a realistic
`ClaudeEstimate` (10 to 15 work items, risks, notes) priced by `build_bundle`, stored with the saves
service's internal `PUT /internal/saves/by-job/{job_id}`. Their jobs are not in Redis, which is what an
estimate older than `JOB_TTL_S` looks like: the chat service then finds the job through its save.

Keys are made with the CLI's own `create_key`, in one session instead of one `estimator keys create`
process per owner (200 Python start-ups would take minutes on two cores).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from services.estimation.bundle import EstimateBundle, build_bundle, stored_fields
from services.estimation.methodology import METHODOLOGY_VERSION, MODEL_DOCUMENT
from services.estimation.models import ClaudeEstimate, Financials, Risk, WorkItem
from services.estimation.rate_card import RateCard
from services.saves.db import make_sessionmaker
from services.saves.keys import create_key
from services.shared.contracts import SaveCreate, Usage
from services.shared.internal import OWNER_HEADER, TOKEN_HEADER

SEED_PARALLEL = 8

# (title, role, low, likely, high): present in every estimate, so every scope change below names a real item.
CORE_ITEMS: tuple[tuple[str, str, float, float, float], ...] = (
    ("User authentication and account management", "backend", 16, 24, 40),
    ("REST API for orders and customers", "backend", 24, 40, 64),
    ("Search feature with filters and full-text search", "backend", 20, 32, 56),
    ("Reporting dashboard with charts and CSV export", "frontend", 24, 36, 60),
    ("Admin panel for users and the catalogue", "frontend", 20, 30, 48),
    ("Email notifications for order events", "backend", 8, 12, 20),
    ("Payment integration with Stripe", "backend", 16, 24, 40),
    ("CI/CD pipeline and staging environment", "devops", 12, 16, 28),
    ("End-to-end test suite for the main journeys", "qa", 16, 24, 36),
    ("UX design of the main screens", "designer", 16, 24, 40),
)
EXTRA_ITEMS: tuple[tuple[str, str, float, float, float], ...] = (
    ("Data import from the legacy system", "data", 12, 20, 36),
    ("Architecture and technical design", "architect", 8, 12, 20),
    ("Customer self-service portal", "frontend", 24, 32, 52),
    ("Inventory synchronisation with the warehouse", "backend", 16, 28, 48),
    ("Project planning and stakeholder coordination", "pm", 8, 12, 16),
)
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Soylent", "Cyberdyne")


@dataclass(frozen=True)
class Seeded:
    """One user's owner, key and finished estimate (with what the chat prompt is built from)."""

    owner: str
    key: str
    job_id: str
    name: str
    estimate: ClaudeEstimate
    financials: Financials


def estimate_for(index: int) -> ClaudeEstimate:
    """10 to 15 work items (the core ten plus up to five more), with the notes a real estimate carries."""
    chosen = [*CORE_ITEMS, *EXTRA_ITEMS[: index % (len(EXTRA_ITEMS) + 1)]]
    items = [
        WorkItem(
            id=f"WI-{n:02d}",
            title=title,
            role=role,
            low_hours=low,
            likely_hours=likely,
            high_hours=high,
            assumptions=[f"{title} follows the patterns already agreed for the rest of the product"],
            risks=[f"{title} may need a second iteration after user testing"] if n % 3 == 0 else [],
        )
        for n, (title, role, low, likely, high) in enumerate(chosen, start=1)
    ]
    return ClaudeEstimate(
        summary=(
            f"An online shop for {COMPANIES[index % len(COMPANIES)]}: customer accounts, orders and payments, "
            "search, a reporting dashboard and an admin panel, delivered with CI/CD and end-to-end tests."
        ),
        work_items=items,
        risks=[
            Risk(title="Stripe account approval is late", probability=0.2, impact_hours=16, mitigation="Apply now"),
            Risk(title="Legacy data is inconsistent", probability=0.3, impact_hours=24, mitigation="Profile early"),
            Risk(title="Search relevance needs tuning", probability=0.4, impact_hours=12, mitigation="Test set"),
        ],
        assumptions=[
            "The client provides brand guidelines and copy",
            "Hosting is on the client's existing cloud account",
            "One staging and one production environment",
            "Two review rounds per design",
        ],
        out_of_scope=["Native mobile apps", "Marketing website", "Content migration beyond products and customers"],
        open_questions=[
            "Which payment methods besides cards are needed?",
            "Who maintains the product catalogue after launch?",
            "Are there accessibility requirements beyond WCAG AA?",
        ],
    )


def requirements_for(name: str, estimate: ClaudeEstimate) -> str:
    features = "\n".join(f"- {item.title}" for item in estimate.work_items)
    return f"# {name}\n\n## Features\n{features}\n\n## Constraints\n- Launch within four months\n"


def new_estimate_requirements(user: int, submission: int) -> str:
    """What an estimation user submits: a small product of ten features, different for every submission."""
    company = COMPANIES[(user + submission) % len(COMPANIES)]
    features = [title for title, *_ in (*CORE_ITEMS, *EXTRA_ITEMS)]
    start = (user * 3 + submission) % len(features)
    chosen = [features[(start + n) % len(features)] for n in range(10)]
    bullets = "\n".join(f"- {feature}" for feature in chosen)
    return f"# {company} platform, release {submission + 1}\n\n## Features\n{bullets}\n"


def bundle_for(name: str, estimate: ClaudeEstimate, requirements_md: str, rate_card: RateCard) -> EstimateBundle:
    return build_bundle(
        name=name,
        estimate=estimate,
        requirements_md=requirements_md,
        repo=None,
        rate_card=rate_card,
        usage=None,
        revision=1,
    )


async def create_keys(database_url: str, owners: list[str]) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return [(await create_key(session, owner))[1] for owner in owners]
    finally:
        await engine.dispose()


async def seed_saves(saves_url: str, internal_token: str, owners: list[str], keys: list[str]) -> list[Seeded]:
    """One finished estimate per owner, written as the worker writes it."""
    rate_card = RateCard()
    parallel = asyncio.Semaphore(SEED_PARALLEL)

    async def one(client: httpx.AsyncClient, index: int) -> Seeded:
        owner, key = owners[index], keys[index]
        job_id = str(uuid.uuid4())
        name = f"{COMPANIES[index % len(COMPANIES)]} webshop {index}"
        estimate = estimate_for(index)
        requirements_md = requirements_for(name, estimate)
        bundle = bundle_for(name, estimate, requirements_md, rate_card)
        save = SaveCreate(
            job_id=job_id,
            owner=owner,
            name=name,
            requirements_md=requirements_md,
            methodology_version=METHODOLOGY_VERSION,
            methodology_md=MODEL_DOCUMENT,
            usage=Usage(calls=1, input_tokens=9000, output_tokens=2500),
            **stored_fields(bundle),
        )
        async with parallel:
            response = await client.put(
                f"/internal/saves/by-job/{job_id}",
                content=save.model_dump_json(),
                headers={TOKEN_HEADER: internal_token, OWNER_HEADER: owner, "Content-Type": "application/json"},
            )
        response.raise_for_status()
        financials = Financials.model_validate(bundle.financials_data)
        return Seeded(owner, key, job_id, name, estimate, financials)

    async with httpx.AsyncClient(base_url=saves_url, timeout=60) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(len(owners)))))
