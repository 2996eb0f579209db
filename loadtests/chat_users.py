"""The chat benchmark's users: chatters on the streaming chat, and estimation users beside them.

A chatter sends a message with `Accept: text/event-stream`, reads the stream to `done` or `error`, thinks
20 to 40 s and sends the next. One message in five asks for a change of scope (a fixed list, each naming
an item every seeded estimate has); the others ask questions with no verb the chat would take for a
change. Each event's arrival is timed against the moment the request was sent.

An estimation user submits requirements, polls the job's status every second until it ends, then
thinks. Every user has its own API key and its own client address (`X-Forwarded-For`, the gateway
trusting loopback as a proxy), so the product's per-key and per-address request limits apply per user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from loadtests.chat_seed import Seeded, new_estimate_requirements

SCOPE_CHANGES = (
    "Please add a mobile app for iOS and Android",
    "Remove the reporting dashboard",
    "Increase the hours of the search feature by 50%",
    "Please add single sign-on with Google and Microsoft accounts",
    "Drop the email notifications, we will use our existing mailer",
    "Reduce the admin panel estimate by 20%",
    "Please add an audit log of every change to orders",
    "Double the hours of the payment integration",
)
QUESTIONS = (
    "Why is the API work that many hours?",
    "What are the biggest risks in this estimate?",
    "How confident are you in the search feature hours?",
    "What is assumed about hosting and infrastructure?",
    "Which items carry the most uncertainty?",
    "What does the price cover exactly?",
    "Is QA included in these figures?",
    "What is out of scope?",
    "How was the contingency computed?",
    "Who would work on the admin panel?",
)
SCOPE_EVERY = 5
TERMINAL = ("succeeded", "failed")

Asked = Literal["question", "scope"]


def message_for(user: int, turn: int) -> tuple[Asked, str]:
    """The user's n-th message: every fifth a scope change, in an order that differs between users."""
    if (turn + user) % SCOPE_EVERY == SCOPE_EVERY - 1:
        return "scope", SCOPE_CHANGES[(user + turn // SCOPE_EVERY) % len(SCOPE_CHANGES)]
    return "question", QUESTIONS[(user * 3 + turn) % len(QUESTIONS)]


def client_address(user: int) -> str:
    return f"10.{user // 65536 % 256}.{user // 256 % 256}.{user % 256}"


@dataclass
class TurnRecord:
    """One chat turn as its user saw it; times are seconds since the phase started."""

    phase: str
    user: int
    asked: Asked
    message: str
    sent: float
    status: int = 0
    accepted: float | None = None
    """When the `turn` event arrived: the turn is running from then on."""
    silence_before_wait: float | None = None
    """From the last news the user had (the request itself, or the last event other than `turn`) to the
    first `wait`: how long a waiting user was left in silence (a follow-up call may wait after text)."""
    first_wait: float | None = None
    admitted: float | None = None
    wait_events: int = 0
    waiting_since: float | None = None
    last_progress: float | None = None
    """The last `delta` or `admitted`: a follow-up call (a revision's second) starts waiting after it."""
    told_gaps: list[float] = field(default_factory=list)
    """For each time the turn started waiting: how long the user had heard nothing before `wait` came."""
    waited_total: float = 0.0
    """Every wait of the turn (a revision's follow-up may wait again, from the turn's place), `wait` to `admitted`."""
    wait_reasons: list[str] = field(default_factory=list)
    first_delta: float | None = None
    ended: float | None = None
    outcome: Literal["done", "error", "refused", "broken", "unfinished"] = "unfinished"
    error_code: str | None = None
    revised: bool = False
    output_tokens: int | None = None
    calls: int | None = None
    resets: int = 0

    @property
    def kind(self) -> Literal["answer", "revision"]:
        """A turn that saved a new revision is a revision, whatever was asked."""
        return "revision" if self.revised else "answer"

    @property
    def ttft(self) -> float | None:
        return None if self.first_delta is None else self.first_delta - self.sent

    @property
    def duration(self) -> float | None:
        return None if self.ended is None or self.outcome != "done" else self.ended - self.sent

    @property
    def working(self) -> float | None:
        """The turn's duration less its time in line: what Claude and the services took."""
        return None if self.duration is None else self.duration - self.waited_total

    @property
    def told_after(self) -> float | None:
        """The longest silence before a `wait`: from the request for the first call, from the previous call's
        last text for a follow-up call (which may wait again). `silence_before_wait` is the first of them."""
        return max(self.told_gaps, default=None)

    @property
    def in_line(self) -> float | None:
        """First `wait` to `admitted`, or to the end of a turn that was never admitted (`claude_busy`)."""
        if self.first_wait is None:
            return None
        end = self.admitted if self.admitted is not None else self.ended
        return None if end is None else end - self.first_wait

    @property
    def waited(self) -> float | None:
        """First `wait` to the `admitted` that ended it; None for a turn that never waited or gave up."""
        if self.first_wait is None or self.admitted is None:
            return None
        return self.admitted - self.first_wait


@dataclass
class EstimationRecord:
    phase: str
    user: int
    submitted: float
    status: int = 0
    job_id: str | None = None
    started: float | None = None
    ended: float | None = None
    outcome: Literal["succeeded", "failed", "refused", "unfinished"] = "unfinished"
    error_code: str | None = None
    capacity_polls: int = 0
    """Polls that saw the job in stage `waiting_for_capacity` (one a second)."""

    @property
    def queue_wait(self) -> float | None:
        """Submitted to first seen running, to the poll interval: how long the job sat in the queue."""
        return None if self.started is None else self.started - self.submitted

    @property
    def duration(self) -> float | None:
        return None if self.ended is None or self.outcome != "succeeded" else self.ended - self.submitted


@dataclass
class Phase:
    """A ramp over which users arrive, a steady window that is measured, and a drain for work in flight."""

    name: str
    ramp_s: float
    steady_s: float
    drain_s: float
    started: float = 0.0
    turns: list[TurnRecord] = field(default_factory=list)
    estimations: list[EstimationRecord] = field(default_factory=list)

    @property
    def end_s(self) -> float:
        return self.ramp_s + self.steady_s

    def now(self) -> float:
        return time.monotonic() - self.started

    def in_steady(self, at: float) -> bool:
        return self.ramp_s <= at < self.end_s


@dataclass(frozen=True)
class Load:
    think_s: tuple[float, float]
    poll_s: float
    turn_timeout_s: float
    seed: int


async def _sleep_in_phase(phase: Phase, seconds: float) -> bool:
    """Sleeps, but not past the phase's end; False when the phase is over."""
    left = phase.end_s - phase.now()
    if left <= 0:
        return False
    await asyncio.sleep(min(seconds, left))
    return phase.now() < phase.end_s


def _json(raw: bytes) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        body = json.loads(raw)
        if isinstance(body, dict):
            return body
    return {}


async def chat_turn(client: httpx.AsyncClient, user: int, seeded: Seeded, record: TurnRecord, phase: Phase) -> None:
    headers = {
        "Authorization": f"Bearer {seeded.key}",
        "Accept": "text/event-stream",
        "X-Forwarded-For": client_address(user),
    }
    event = ""
    async with client.stream(
        "POST", f"/api/estimate/{seeded.job_id}/chat", json={"message": record.message}, headers=headers
    ) as response:
        record.status = response.status_code
        if response.status_code != 200:
            record.outcome = "refused"
            record.error_code = str(_json(await response.aread()).get("error", {}).get("code", response.status_code))
            record.ended = phase.now()
            return
        last_news = record.sent  # the `turn` event says the turn runs, not how it is doing
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                continue
            if not line.startswith("data:"):
                continue
            at = phase.now()
            heard = last_news
            if event != "turn":
                last_news = at
            data = _json(line[5:].strip().encode())
            if event == "turn":
                record.accepted = at
            elif event == "wait":
                record.wait_events += 1
                if data.get("reason") not in record.wait_reasons:
                    record.wait_reasons.append(str(data.get("reason")))
                if record.first_wait is None:
                    record.first_wait = at
                    record.silence_before_wait = at - heard
                if record.waiting_since is None:
                    record.waiting_since = at
                    since = record.sent if record.last_progress is None else record.last_progress
                    record.told_gaps.append(at - since)
            elif event == "admitted":
                if record.first_wait is not None and record.admitted is None:
                    record.admitted = at
                if record.waiting_since is not None:
                    record.waited_total += at - record.waiting_since
                    record.waiting_since = None
                record.last_progress = at
            elif event == "delta":
                record.last_progress = at
                if record.first_delta is None:
                    record.first_delta = at
            elif event == "reset":
                record.resets += 1
            elif event == "done":
                usage = data.get("usage", {})
                record.outcome, record.ended = "done", at
                record.revised = bool(data.get("revised"))
                record.output_tokens = int(usage.get("output_tokens", 0))
                record.calls = int(usage.get("calls", 0))
                return
            elif event == "error":
                record.outcome, record.ended = "error", at
                record.error_code = str(data.get("error", {}).get("code", "unknown"))
                return
    record.outcome, record.ended = "broken", phase.now()


async def chatter(
    client: httpx.AsyncClient, user: int, users: int, seeded: Seeded, phase: Phase, load: Load, turns_sent: list[int]
) -> None:
    """One chatting user for the length of the phase; `turns_sent[user]` carries its place in the script."""
    rng = random.Random(f"{load.seed}:{phase.name}:chat:{user}")
    if not await _sleep_in_phase(phase, phase.ramp_s * user / max(1, users)):
        return
    while phase.now() < phase.end_s:
        asked, message = message_for(user, turns_sent[user])
        turns_sent[user] += 1
        record = TurnRecord(phase.name, user, asked, message, phase.now())
        phase.turns.append(record)
        try:
            async with asyncio.timeout(load.turn_timeout_s):
                await chat_turn(client, user, seeded, record, phase)
        except (httpx.HTTPError, TimeoutError) as exc:
            record.outcome, record.ended = "broken", phase.now()
            record.error_code = type(exc).__name__
        if not await _sleep_in_phase(phase, rng.uniform(*load.think_s)):
            return


async def _follow(
    client: httpx.AsyncClient, headers: dict[str, str], record: EstimationRecord, phase: Phase, load: Load
) -> None:
    """Polls until the job ends or the phase's drain is over (the job is then left `unfinished`)."""
    while phase.now() < phase.end_s + phase.drain_s:
        await asyncio.sleep(load.poll_s)
        response = await client.get(f"/api/estimate/{record.job_id}/status", headers=headers)
        if response.status_code != 200:
            continue
        job = response.json()
        at = phase.now()
        if job["status"] != "queued" and record.started is None:
            record.started = at
        if job.get("stage") == "waiting_for_capacity":
            record.capacity_polls += 1
        if job["status"] in TERMINAL:
            record.outcome, record.ended = job["status"], at
            record.error_code = (job.get("error") or {}).get("code")
            return


async def estimation_user(
    client: httpx.AsyncClient, user: int, users: int, key: str, phase: Phase, load: Load, submitted: list[int]
) -> None:
    rng = random.Random(f"{load.seed}:{phase.name}:estimate:{user}")
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": client_address(100_000 + user)}
    if not await _sleep_in_phase(phase, phase.ramp_s * user / max(1, users)):
        return
    while phase.now() < phase.end_s:
        requirements = new_estimate_requirements(user, submitted[user])
        submitted[user] += 1
        record = EstimationRecord(phase.name, user, phase.now())
        phase.estimations.append(record)
        try:
            response = await client.post("/api/estimate", json={"requirements_md": requirements}, headers=headers)
            record.status = response.status_code
            if response.status_code != 202:
                record.outcome, record.ended = "refused", phase.now()
                record.error_code = str(_json(response.content).get("error", {}).get("code", response.status_code))
            else:
                record.job_id = response.json()["job_id"]
                await _follow(client, headers, record, phase, load)
        except httpx.HTTPError as exc:
            record.error_code = type(exc).__name__
        if not await _sleep_in_phase(phase, rng.uniform(*load.think_s)):
            return
