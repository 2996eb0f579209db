"""The kopf handlers: make the fleet match each `LLMBudget`, report what was done, undo it on delete.

One level-triggered function, `reconcile`, runs on create, update and resume, and on a timer so that
a manual edit (an HPA's maxReplicas, an `estimator budget set`) is put back. It computes the desired
state first (`desired.py`), so an invalid spec changes nothing; then it writes the fleet budget to
Redis, the worker HPA and the worker Deployment, each only where it differs. Every outcome ends in the
status (`Ready`, `Degraded`, `applied`), never in an exception that kopf would retry in a loop.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
from kopf._core.intents.registries import SmartOperatorRegistry
from redis.exceptions import RedisError

from estimator_operator import kube
from estimator_operator.desired import Desired, InvalidSpec, desired_state, release_of
from estimator_operator.settings import (
    DEFAULT_MAX_JOBS,
    DEFAULT_MAX_REPLICAS,
    GROUP,
    PLURAL,
    VERSION,
    OperatorSettings,
)
from services.llm.budget import FleetBudget
from services.shared.redis import make_redis

log = logging.getLogger("estimator.operator")
FINALIZER = f"{GROUP}/llmbudget"
Logger = logging.Logger | logging.LoggerAdapter[Any]


@dataclass
class State:
    """What the handlers share (kept in kopf's memo): the budget in Redis and kopf's API settings."""

    settings: OperatorSettings
    budget: FleetBudget
    kopf_settings: kopf.OperatorSettings
    # One reconcile at a time per LLMBudget: the timer and a change handler would otherwise race.
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())


@dataclass(frozen=True)
class Outcome:
    ready: bool
    reason: str
    message: str
    applied: dict[str, Any] | None = None
    changed: tuple[str, ...] = ()


def configure(kopf_settings: kopf.OperatorSettings) -> None:
    """kopf's settings for a namespaced operator with a narrow Role."""
    # No cluster-wide watching of CRDs and namespaces (the Role has neither); the resources are discovered once.
    kopf_settings.scanning.disabled = True
    # Progress and the last handled spec in annotations of our own: the CRD's status schema is strict.
    kopf_settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    kopf_settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    kopf_settings.persistence.finalizer = FINALIZER
    # Events are the handlers' own (Applied, DriftCorrected, a Degraded reason, Restored), posted explicitly;
    # of the log lines only errors become events too.
    kopf_settings.posting.level = logging.ERROR


async def reconcile(state: State, spec: Mapping[str, Any], namespace: str, logger: Logger) -> Outcome:
    """Makes the fleet match `spec`; what it did (or why not) comes back as an Outcome."""
    try:
        release = release_of(spec)
        desired_state(spec)  # an impossible spec is reported before anything is read or written
    except InvalidSpec as exc:
        return Outcome(False, "InvalidSpec", str(exc))
    api = kube.Kube(state.kopf_settings, logger)
    try:
        hpa = await api.get(kube.hpa_url(namespace, release.worker_hpa))
        deployment = await api.get(kube.deployment_url(namespace, release.worker_deployment))
    except kube.NotFound as exc:
        return Outcome(False, "ReleaseNotFound", f"{_missing(exc, release.worker_hpa, release.worker_deployment)}")
    except kube.APIError as exc:
        return Outcome(False, "KubernetesError", f"reading the release: {exc}")
    container = state.settings.operator_worker_container
    try:
        desired = desired_state(spec, min_replicas=kube.hpa_min_replicas(hpa))
        deployment_ops = kube.deployment_ops(deployment, container, desired.max_jobs)
    except InvalidSpec as exc:
        return Outcome(False, "InvalidSpec", str(exc))
    except LookupError as exc:
        return Outcome(False, "ReleaseNotFound", f"Deployment {release.worker_deployment}: {exc}")
    changed: list[str] = []
    try:
        if await budget_differs(state.budget, desired.budget):
            await state.budget.override(desired.budget)
            changed.append("the fleet budget")
    except (RedisError, OSError) as exc:
        return Outcome(False, "RedisUnavailable", f"writing the fleet budget: {exc}")
    try:
        hpa_ops = kube.hpa_ops(hpa, desired.max_replicas, desired.max_jobs)
        if hpa_ops:
            await api.json_patch(kube.hpa_url(namespace, release.worker_hpa), hpa_ops)
            changed.append(f"HPA {release.worker_hpa}")
        if deployment_ops:
            await api.json_patch(kube.deployment_url(namespace, release.worker_deployment), deployment_ops)
            changed.append(f"Deployment {release.worker_deployment}")
    except kube.APIError as exc:
        return Outcome(False, "KubernetesError", f"patching the release: {exc}")
    return Outcome(True, "Applied", _summary(desired), applied=_applied(desired), changed=tuple(changed))


async def budget_differs(budget: FleetBudget, wanted: Mapping[str, float]) -> bool:
    """Whether the overrides in Redis are not (all of) `wanted`: the services read this hash."""
    raw: dict[bytes | str, bytes | str] = await budget.redis.hgetall(budget.config_key)  # type: ignore[misc]
    current = {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}
    return (
        any(current.get(name) != float(value) for name, value in wanted.items()) or set(current) - set(wanted) != set()
    )


def _missing(exc: Exception, hpa: str, deployment: str) -> str:
    return f"HPA {hpa} or Deployment {deployment} is missing in this namespace ({exc})"


def _summary(desired: Desired) -> str:
    return (
        f"{desired.max_replicas} worker(s) x max_jobs {desired.max_jobs} = {desired.concurrency} concurrent "
        f"estimations (the budget feeds {desired.plan.estimation_concurrency}); " + "; ".join(desired.reasons)
    )


def _applied(desired: Desired) -> dict[str, Any]:
    b = desired.budget
    return {
        "budget": {
            "rpm": int(b["rpm"]),
            "inputTokensPerMinute": int(b["input_tpm"]),
            "outputTokensPerMinute": int(b["output_tpm"]),
            "maxInFlight": int(b["max_in_flight"]),
            "chatReserve": str(b["chat_reserve"]),
        },
        "maxReplicas": desired.max_replicas,
        "maxJobs": desired.max_jobs,
        "concurrency": desired.concurrency,
        "fedConcurrency": desired.plan.estimation_concurrency,
    }


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions(previous: list[dict[str, Any]], outcome: Outcome, generation: int | None) -> list[dict[str, Any]]:
    """Ready and Degraded; a condition's lastTransitionTime moves only when its status does."""
    before = {c.get("type"): c for c in previous or []}
    wanted = {
        "Ready": ("True" if outcome.ready else "False", outcome.reason, outcome.message),
        "Degraded": (
            "False" if outcome.ready else "True",
            "AsExpected" if outcome.ready else outcome.reason,
            "" if outcome.ready else outcome.message,
        ),
    }
    result = []
    for kind, (value, reason, message) in wanted.items():
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == value else None
        result.append(
            {
                "type": kind,
                "status": value,
                "reason": reason,
                "message": message,
                "lastTransitionTime": since or _now(),
                "observedGeneration": generation or 0,
            }
        )
    return result


def report(
    outcome: Outcome,
    *,
    body: kopf.Body,
    status: Mapping[str, Any],
    patch: kopf.Patch,
    generation: int | None,
    logger: Logger,
    cause: str,
) -> None:
    previous = list(status.get("conditions") or [])
    patch.status["conditions"] = conditions(previous, outcome, generation)
    patch.status["observedGeneration"] = generation or 0
    if outcome.ready:
        patch.status["applied"] = outcome.applied
        if outcome.changed:
            # The change handlers apply a new spec; the timer finds something to change only when it drifted.
            reason = "DriftCorrected" if cause == "timer" else "Applied"
            kopf.event(
                body, type="Normal", reason=reason, message=f"set {', '.join(outcome.changed)}: {outcome.message}"
            )
            logger.info("%s: %s", reason, outcome.message)
    else:
        was = {c.get("type"): c for c in previous}.get("Degraded") or {}
        if was.get("status") != "True" or was.get("message") != outcome.message:
            kopf.event(body, type="Warning", reason=outcome.reason, message=outcome.message)
        logger.warning("Degraded (%s): %s", outcome.reason, outcome.message)


async def restore(state: State, spec: Mapping[str, Any], namespace: str, logger: Logger) -> list[str]:
    """Back to the chart's defaults: no budget override, the HPA and the workers as the chart rendered them."""
    await state.budget.clear_overrides()
    done = ["budget overrides cleared"]
    try:
        release = release_of(spec)
    except InvalidSpec:
        return done
    api = kube.Kube(state.kopf_settings, logger)
    try:
        hpa = await api.get(kube.hpa_url(namespace, release.worker_hpa))
    except kube.NotFound:
        hpa = None
    if hpa is not None:
        replicas = kube.annotation_int(hpa, DEFAULT_MAX_REPLICAS)
        jobs = kube.annotation_int(hpa, DEFAULT_MAX_JOBS)
        if replicas is None or jobs is None:
            logger.warning("HPA %s lacks the %s annotations: left as it is", release.worker_hpa, GROUP)
        else:
            ops = kube.hpa_ops(hpa, replicas, jobs)
            if ops:
                await api.json_patch(kube.hpa_url(namespace, release.worker_hpa), ops)
            done.append(f"HPA {release.worker_hpa}: maxReplicas {replicas}, target {jobs}")
    try:
        deployment = await api.get(kube.deployment_url(namespace, release.worker_deployment))
        ops = kube.deployment_ops(deployment, state.settings.operator_worker_container, None)
    except (kube.NotFound, LookupError):
        ops = []
    if ops:
        await api.json_patch(kube.deployment_url(namespace, release.worker_deployment), ops)
        done.append(f"Deployment {release.worker_deployment}: WORKER_MAX_JOBS from the chart's ConfigMap")
    return done


def build_registry(settings: OperatorSettings, registry: kopf.OperatorRegistry | None = None) -> kopf.OperatorRegistry:
    """The handlers on a registry of their own (tests pass one with a login to their API emulator)."""
    # The smart registry logs in with the pod's ServiceAccount (or a kubeconfig on a laptop).
    registry = registry if registry is not None else SmartOperatorRegistry()
    resource = (GROUP, VERSION, PLURAL)
    ours = settings  # the handlers' own `settings` argument is kopf's

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(settings)
        memo["redis"] = redis = make_redis(ours.redis_url)
        memo["state"] = State(ours, FleetBudget(redis, ours), settings)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        if "redis" in memo:
            await memo["redis"].aclose()

    async def apply(cause: str, memo: kopf.Memo, **kwargs: Any) -> None:
        logger: Logger = kwargs["logger"]
        state: State = memo["state"]
        try:
            async with state.lock(str(kwargs["uid"] or kwargs["name"])):
                outcome = await reconcile(state, kwargs["spec"], kwargs["namespace"], logger)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported, never retried in a loop: the timer tries again
            logger.exception("reconcile failed")
            outcome = Outcome(False, "InternalError", f"{type(exc).__name__}: {exc}")
        report(
            outcome,
            body=kwargs["body"],
            status=kwargs["status"],
            patch=kwargs["patch"],
            generation=kwargs["meta"].get("generation"),
            logger=logger,
            cause=cause,
        )

    @kopf.on.resume(*resource, registry=registry)
    @kopf.on.create(*resource, registry=registry)
    @kopf.on.update(*resource, registry=registry, field="spec")
    async def on_change(memo: kopf.Memo, **kwargs: Any) -> None:
        await apply("change", memo, **kwargs)

    @kopf.timer(
        *resource, registry=registry, interval=settings.operator_interval_s, initial_delay=settings.operator_interval_s
    )
    async def on_timer(memo: kopf.Memo, **kwargs: Any) -> None:
        await apply("timer", memo, **kwargs)

    @kopf.on.delete(*resource, registry=registry, retries=10, backoff=settings.operator_interval_s / 4)
    async def on_delete(
        memo: kopf.Memo, body: kopf.Body, spec: kopf.Spec, namespace: str | None, logger: Logger, **_: Any
    ) -> None:
        try:
            done = await restore(memo["state"], spec, namespace or "", logger)
        except (RedisError, OSError) as exc:
            raise kopf.TemporaryError(f"Redis unreachable, the overrides stay until it answers: {exc}") from exc
        except kube.APIError as exc:
            raise kopf.TemporaryError(f"restoring the release: {exc}") from exc
        kopf.event(body, type="Normal", reason="Restored", message="; ".join(done))
        logger.info("restored the chart's defaults: %s", "; ".join(done))

    return registry


async def run(
    settings: OperatorSettings,
    *,
    peering: str | None = None,
    liveness: str | None = None,
    registry: kopf.OperatorRegistry | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """The operator in this process, namespaced to WATCH_NAMESPACE; standalone unless a peering name is given."""
    await kopf.operator(
        registry=build_registry(settings, registry),
        standalone=peering is None,
        peering_name=peering,
        namespaces=[settings.watch_namespace],
        clusterwide=False,
        liveness_endpoint=liveness,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
        memo=kopf.Memo(),
    )
