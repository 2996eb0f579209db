"""Settings every service shares, read from the environment (and Kubernetes Secrets mounted as env).

Each service has a settings class of its own (`services/<service>/settings.py`) built from these parts,
so a pod needs, and is given, only what it uses: the gateway never sees the Claude key, the saves
service never sees GitHub's token. Names are the same environment variables in every service that
reads them. `docs/configuration.md` lists them by service (`estimator config` prints that table).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Literal, TypeVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.local import LOCAL_URLS
from services.shared.redis import KEY_PREFIX

CONFIG = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)
S = TypeVar("S", bound=BaseSettings)
DEFAULT_METRICS_PORT = 9464
# Longer than a readiness probe's period (5 s in the chart) plus the endpoints' propagation.
DEFAULT_SHUTDOWN_DELAY_S = 5.0
_loaded: list[Callable[[], object]] = []


class ServiceSettings(BaseSettings):
    """What every service reads: the kind of deployment, Redis, the token between services, logs and traces."""

    model_config = CONFIG

    estimator_env: Literal["production", "development"] = Field(
        default="production",
        description="`development` (the local stack and tests) relaxes the startup checks and shows internal docs",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="jobs, queue, events, rate limits, caches, read model and the Claude budget",
    )
    redis_max_connections: int = Field(default=200, ge=4, description="per process and pool")
    internal_token: SecretStr = Field(
        default=SecretStr(""), description="shared secret for `/internal/*` calls between services"
    )
    log_level: str = Field(default="INFO", description="logs go to stderr at this level")
    log_format: Literal["json", "text"] | None = Field(
        default=None, description="`json` lines or `text` (unset: json; development: text)"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector; traces are exported only when set"
    )

    @property
    def development(self) -> bool:
        return self.estimator_env == "development"

    @property
    def logs_as(self) -> str:
        return self.log_format or ("text" if self.development else "json")


class HttpSettings(BaseSettings):
    """For the HTTP services: the port Prometheus scrapes, and the bounds on a request's head."""

    model_config = CONFIG

    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description=f"`/metrics` is served here, not on the API port (unset: {DEFAULT_METRICS_PORT}; development: off)",
    )
    max_header_bytes: int = Field(default=16_384, ge=1024, description="request headers over this in total get 431")
    max_header_field_bytes: int = Field(
        default=8_192, ge=256, description="one header line over this gets 431; a longer request target, 414"
    )

    access_log: bool = Field(
        default=False,
        description="a log line per request (off: the ingress logs each request and the metrics count them)",
    )
    reuse_port: bool = Field(
        default=False,
        description="several processes may serve the API port on one host, the kernel spreading connections "
        "among them; each needs its own METRICS_PORT (one process per pod needs none)",
    )
    shutdown_delay_s: float | None = Field(
        default=None,
        ge=0,
        le=120,
        description="on SIGTERM, seconds `/readyz` says 503 while requests are still served, before the drain "
        f"(unset: {DEFAULT_SHUTDOWN_DELAY_S:g}; development: 0)",
    )

    def shutdown_delay_for(self, service: ServiceSettings) -> float:
        if self.shutdown_delay_s is not None:
            return self.shutdown_delay_s
        return 0.0 if service.development else DEFAULT_SHUTDOWN_DELAY_S

    def metrics_port_for(self, service: ServiceSettings) -> int:
        """0 when off. Development serves `/metrics` on the API port as well, so it needs no port of its own."""
        if self.metrics_port is not None:
            return self.metrics_port
        return 0 if service.development else DEFAULT_METRICS_PORT


class SavesPeerSettings(ServiceSettings):
    """For the services that call the saves service."""

    saves_url: str = Field(default=LOCAL_URLS.saves, description="where the saves service answers")


class JobSettings(BaseSettings):
    """For the services that create or run estimation jobs."""

    model_config = CONFIG

    job_ttl_s: int = Field(default=24 * 3600, description="lifetime in Redis of a job, its input and idempotency")
    queue_name: str = Field(default=f"{KEY_PREFIX}:queue", description="the ARQ queue of estimation jobs")


class ReadModelSettings(BaseSettings):
    """For the services that fill or serve the saves read model."""

    model_config = CONFIG

    read_model_ttl_s: int = Field(default=300, ge=1, description="saves reads cached in Redis for the gateways")


def loader(cls: type[S]) -> Callable[[], S]:
    """A process-wide, read-once accessor for a settings class; `reload()` makes every one read again."""

    @lru_cache(maxsize=1)
    def load() -> S:
        return cls()

    _loaded.append(load.cache_clear)
    return load


def reload() -> None:
    """Tests change the environment between cases; this forgets every settings object read so far."""
    for forget in _loaded:
        forget()


get_service_settings = loader(ServiceSettings)
get_http_settings = loader(HttpSettings)
