"""The `estimator` command: run the stack, serve a service, run a worker or the operator, manage keys and budget."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Sequence

from services.capacity_report import MIX_FLAGS
from services.shared import settings as service_settings
from services.shared.capacity import Mix
from services.shared.local import HOST as LOCAL_HOST
from services.shared.local import LOCAL_PORTS
from services.shared.observability import configure_logging
from services.shared.settings import ServiceSettings, get_service_settings

# A lookup that started before the revocation may still be waiting on the saves service this long.
REVOKED_MARKER_MARGIN_S = 30

SERVICES = {
    "gateway": "services.gateway.app:create_app",
    "chat": "services.chat.app:create_app",
    "saves": "services.saves.app:create_app",
    "simulator": "services.simulator.app:create_app",
}


async def _use_stores(command: str, needs: tuple[str, ...]) -> None:
    """A deployment's admin command uses the stores it is given, or refuses to run (exit code 2).

    In development, with no REDIS_URL / DATABASE_URL, it reaches the same stores `make run` uses; a pod
    must never migrate, or create keys in, a throwaway SQLite file of its own.
    """
    from services.shared.deployment import require_deployment_ready

    if not get_service_settings().development:
        from services.saves.settings import get_settings

        require_deployment_ready(get_settings(), f"estimator {command}", needs=needs, shared=())
        return
    from services.devstack.resolve import resolve

    resolved = await resolve()
    os.environ.setdefault("REDIS_URL", resolved.redis_url)
    os.environ.setdefault("DATABASE_URL", resolved.database_url)
    if resolved.embedded_database:
        resolved.state_dir.mkdir(parents=True, exist_ok=True)
    service_settings.reload()


def _serve(args: argparse.Namespace) -> None:
    from uvicorn.importer import import_from_string

    from services.shared.internal import SERVER_KEEPALIVE_S
    from services.shared.serving import serve

    settings = get_service_settings()
    app = import_from_string(SERVICES[args.service])()  # checks the deployment: may raise ConfigurationError
    serve(
        app,
        args.host or default_host(settings),
        args.port,
        settings.log_level.lower(),
        proxy_headers=False,
        timeout_graceful_shutdown=30,
        timeout_keep_alive=SERVER_KEEPALIVE_S,
    )


def _worker(_: argparse.Namespace) -> None:
    from services.shared.deployment import require_deployment_ready
    from services.worker.arq_app import create_worker
    from services.worker.settings import get_settings

    settings = get_settings()
    require_deployment_ready(settings, "worker", needs=("saves_url", "anthropic_api_key"))
    create_worker(settings).run()


def _operator(args: argparse.Namespace) -> None:
    """The kopf operator (operator/estimator_operator), namespaced to WATCH_NAMESPACE, in this process."""
    from estimator_operator.handlers import run
    from estimator_operator.settings import get_settings
    from services.shared.deployment import require_deployment_ready

    settings = get_settings()
    require_deployment_ready(settings, "operator", needs=("redis_url", "watch_namespace"), shared=())
    asyncio.run(run(settings, peering=args.peering, liveness=args.liveness))


def default_host(settings: ServiceSettings) -> str:
    """Every interface in a deployment (the pod's address is what the Service routes to); loopback on a laptop."""
    return LOCAL_HOST if settings.development else "0.0.0.0"


async def _migrate(args: argparse.Namespace) -> None:
    from services.saves.db import run_migrations
    from services.saves.settings import get_settings

    await _use_stores("migrate", needs=("database_url",))
    await run_migrations(get_settings().database_url, wait_s=args.wait_s)


async def _keys(args: argparse.Namespace) -> int:
    from services.saves.db import make_engine, make_sessionmaker
    from services.saves.keys import create_key, key_table, list_keys, revoke_key
    from services.saves.settings import get_settings

    await _use_stores("keys", needs=("database_url", "redis_url"))
    settings = get_settings()
    engine = make_engine(settings.database_url, settings)
    try:
        async with make_sessionmaker(engine)() as session:
            if args.keys_command == "create":
                key_id, key = await create_key(session, args.owner)
                await session.commit()
                await _mirror(settings, key, args.owner)
                if args.quiet:
                    print(key)
                else:
                    print(f"Created key {key_id} for owner {args.owner!r}. It is shown once; store it now:\n{key}")
            elif args.keys_command == "revoke":
                revoked = await revoke_key(session, args.key)
                await _announce(settings, revoked)
                print(f"Revoked {len(revoked)} key(s).")
                return 0 if revoked else 1
            else:
                print(key_table(await list_keys(session, args.owner)), end="")
    finally:
        await engine.dispose()
    return 0


async def _mirror(settings: ServiceSettings, key: str, owner: str) -> None:
    """Lets every gateway authenticate the new key from Redis, even while the saves service is down."""
    from redis.exceptions import RedisError

    from services.shared.apikeys import hash_key, mirror_owners
    from services.shared.redis import make_redis

    redis = make_redis(settings.redis_url)
    try:
        await mirror_owners(redis, {hash_key(key): owner})
    except (OSError, RedisError):
        print("warning: Redis unreachable; gateways will look the key up in the saves service", file=sys.stderr)
    finally:
        await redis.aclose()


async def _announce(settings: ServiceSettings, key_hashes: list[str]) -> None:
    """Makes the revocation effective at once on every gateway (their caches hear it from Redis)."""
    from redis.exceptions import RedisError

    from services.gateway.settings import get_settings
    from services.shared.apikeys import announce_revocations
    from services.shared.redis import make_redis

    gateways = get_settings()

    redis = make_redis(settings.redis_url)
    try:
        await announce_revocations(redis, key_hashes, marker_ttl_s=gateways.auth_cache_ttl_s + REVOKED_MARKER_MARGIN_S)
    except (OSError, RedisError):
        print(
            "warning: Redis unreachable; the saves service carries the revocation to every gateway within"
            " KEY_MIRROR_SYNC_S (5 s) of reaching Redis",
            file=sys.stderr,
        )
    finally:
        await redis.aclose()


async def _budget(args: argparse.Namespace) -> int:
    """Shows or changes the fleet-wide Claude budget in Redis (the operator's job in a cluster)."""
    from services.gateway.settings import get_settings
    from services.llm.budget import OVERRIDABLE, FleetBudget
    from services.shared.redis import make_redis

    await _use_stores("budget", needs=("redis_url",))
    settings = get_settings()  # the gateway's settings: Redis and the budget's limits, no Claude key
    redis = make_redis(settings.redis_url)
    budget = FleetBudget(redis, settings)
    try:
        if args.budget_command == "set":
            limits = {name: getattr(args, name) for name in OVERRIDABLE if getattr(args, name) is not None}
            try:
                await budget.override(limits)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        elif args.budget_command == "reset":
            await budget.clear_overrides()
        print(json.dumps(dataclasses.asdict(await budget.snapshot()), indent=2))
    finally:
        await redis.aclose()
    return 0


def _capacity(args: argparse.Namespace) -> int:
    from services.capacity_report import as_json, as_text, plans
    from services.shared.capacity import TIERS, limits_for, tier_name

    mix = Mix(**{name: getattr(args, name) for name in MIX_FLAGS if getattr(args, name) is not None})
    explicit = (args.rpm, args.input_tpm, args.output_tpm)
    try:
        if args.tier is not None:
            named = {f"Tier {tier_name(args.tier)}": limits_for(args.tier, *explicit)}
        elif any(value is not None for value in explicit):
            named = {"explicit": limits_for(None, *explicit)}
        else:
            named = {f"Tier {name}": limits for name, limits in TIERS.items()}
        results = plans(named, args.chat_reserve, mix, args.max_jobs)
    except ValueError as exc:
        print(f"estimator capacity: {exc}", file=sys.stderr)
        return 2
    print(as_json(results) if args.json else as_text(results, mix), end="")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="estimator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the whole stack locally (what `make run` does)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=LOCAL_PORTS.gateway)

    serve = sub.add_parser("serve", help="serve one HTTP service")
    serve.add_argument("service", choices=sorted(SERVICES))
    serve.add_argument("--host", help="default: 0.0.0.0 in production, 127.0.0.1 in development")
    serve.add_argument("--port", type=int, default=LOCAL_PORTS.gateway)

    sub.add_parser("worker", help="run an estimation worker (ARQ)")
    operator = sub.add_parser("operator", help="run the LLMBudget operator (kopf) for WATCH_NAMESPACE")
    leader = operator.add_mutually_exclusive_group()
    leader.add_argument(
        "--standalone", dest="peering", action="store_const", const=None, help="one replica, no peering (default)"
    )
    leader.add_argument("--peering", metavar="NAME", help="elect a leader among replicas with kopf's KopfPeering NAME")
    operator.add_argument(
        "--liveness", metavar="URL", help="kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz"
    )
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument(
        "--wait-s", type=float, default=0, help="wait this long for the database to accept connections (a hook Job)"
    )
    sub.add_parser("config", help="print every setting, its default and the services that read it (markdown)")

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key (printed once)")
    create.add_argument("--owner", required=True)
    create.add_argument("--quiet", action="store_true", help="print only the key")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key")
    listing = keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--owner")

    capacity = sub.add_parser("capacity", help="what a Claude tier feeds: concurrency, workers, queue waits")
    capacity.add_argument("--tier", help="1-4 (default: every tier)")
    for flag in ("--rpm", "--input-tpm", "--output-tpm"):
        capacity.add_argument(flag, type=int, help="an explicit limit (overrides the tier's)")
    capacity.add_argument("--chat-reserve", type=float, default=0.2)
    capacity.add_argument("--max-jobs", type=int, help="WORKER_MAX_JOBS to size workers with")
    for name, kind in MIX_FLAGS.items():
        capacity.add_argument(
            f"--{name.replace('_', '-')}", type=kind, help=f"traffic mix (default {getattr(Mix(), name)})"
        )
    capacity.add_argument("--json", action="store_true")

    budget = sub.add_parser("budget", help="the fleet-wide Claude budget")
    budget_sub = budget.add_subparsers(dest="budget_command", required=True)
    budget_sub.add_parser("show", help="limits in force and what is left of them")
    setter = budget_sub.add_parser("set", help="override limits for every replica at once")
    for flag in ("--rpm", "--input-tpm", "--output-tpm", "--max-in-flight"):
        setter.add_argument(flag, type=int)
    setter.add_argument("--chat-reserve", type=float, help="share of every limit kept for chat, 0..1")
    budget_sub.add_parser("reset", help="drop the overrides: back to the LLM_* settings")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from pydantic import ValidationError

    from services.shared.deployment import ConfigurationError

    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ConfigurationError, ValidationError) as exc:
        # One clear message, not a traceback: the process was not given what it needs.
        print(f"estimator {args.command}: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    settings = get_service_settings()
    configure_logging(settings.log_level, settings.logs_as)
    if args.command == "run":
        from services.devstack.supervisor import run_stack

        asyncio.run(run_stack(args.host, args.port))
    elif args.command == "serve":
        _serve(args)
    elif args.command == "worker":
        _worker(args)
    elif args.command == "operator":
        _operator(args)
    elif args.command == "migrate":
        asyncio.run(_migrate(args))
    elif args.command == "keys":
        return asyncio.run(_keys(args))
    elif args.command == "budget":
        return asyncio.run(_budget(args))
    elif args.command == "capacity":
        return _capacity(args)
    elif args.command == "config":
        from services.config_reference import markdown

        print(markdown(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
