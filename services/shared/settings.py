"""One settings object for every service, read from the environment (and Kubernetes Secrets mounted as env).

Every service reads the same names so that a Helm release can hand the same ConfigMap to all of them;
each service simply ignores the fields it does not use.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class RoleRate(BaseModel):
    """Hourly cost of a role to us, and the rate we bill it at."""

    cost_per_hour: float = Field(gt=0)
    bill_rate_per_hour: float = Field(gt=0)


def _default_rates() -> dict[str, RoleRate]:
    return {
        "architect": RoleRate(cost_per_hour=85, bill_rate_per_hour=150),
        "backend": RoleRate(cost_per_hour=65, bill_rate_per_hour=115),
        "frontend": RoleRate(cost_per_hour=60, bill_rate_per_hour=110),
        "devops": RoleRate(cost_per_hour=70, bill_rate_per_hour=125),
        "qa": RoleRate(cost_per_hour=50, bill_rate_per_hour=90),
        "designer": RoleRate(cost_per_hour=55, bill_rate_per_hour=100),
        "data": RoleRate(cost_per_hour=70, bill_rate_per_hour=125),
        "pm": RoleRate(cost_per_hour=60, bill_rate_per_hour=105),
    }


class RateCard(BaseModel):
    """Commercial parameters: everything the financials are computed from besides Claude's hours."""

    currency: str = "EUR"
    roles: dict[str, RoleRate] = Field(default_factory=_default_rates)
    project_management_pct: float = Field(default=0.10, ge=0, le=1)
    qa_overhead_pct: float = Field(default=0.15, ge=0, le=1)
    confidence_z: float = Field(default=1.2816, gt=0, description="z-score of the contingency percentile (P90)")
    margin_pct: float = Field(default=0.20, ge=0, lt=1)
    payment_schedule: list[tuple[str, float]] = Field(
        default_factory=lambda: [("Signature", 0.30), ("Beta delivery", 0.40), ("Acceptance", 0.30)]
    )


class ModelPrice(BaseModel):
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


def _default_prices() -> dict[str, ModelPrice]:
    return {
        "claude-sonnet-4-6": ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30),
        "claude-opus-4-6": ModelPrice(input=5.0, output=25.0, cache_write=6.25, cache_read=0.50),
        "claude-haiku-4-5": ModelPrice(input=1.0, output=5.0, cache_write=1.25, cache_read=0.10),
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # Infrastructure
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_max_connections: int = Field(default=200, ge=4, description="per process and pool")
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/estimator"
    db_pool_size: int = 10
    db_max_overflow: int = 10

    # Service-to-service
    saves_url: str = "http://127.0.0.1:8003"
    chat_url: str = "http://127.0.0.1:8002"
    internal_token: SecretStr = SecretStr("")

    # Claude
    anthropic_api_key: SecretStr = SecretStr("")
    anthropic_base_url: str | None = None
    anthropic_model: str = "claude-sonnet-4-6"
    anthropic_timeout_s: float = 300.0
    estimate_max_tokens: int = Field(default=8000, ge=256, le=64000)
    chat_max_tokens: int = Field(default=2000, ge=256, le=64000)
    model_prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)

    # Fleet-wide Claude budget (defaults: Anthropic tier 2); the operator may override them in Redis.
    llm_rpm: int = Field(default=1000, ge=1)
    llm_input_tpm: int = Field(default=450_000, ge=1)
    llm_output_tpm: int = Field(default=90_000, ge=1)
    llm_max_in_flight: int = Field(default=50, ge=1)
    llm_chat_reserve: float = Field(default=0.2, ge=0, lt=1, description="share of every limit kept for chat")
    llm_budget_prefix: str = Field(default="estimator:budget", description="processes sharing it share one budget")
    llm_admission_margin_s: float = Field(
        default=1.0, ge=0, description="seconds of refill kept in hand when admitting a call"
    )
    llm_refund_delay_s: float = Field(default=1.0, ge=0, description="unused tokens are spendable again after this")
    llm_lease_ttl_s: float = Field(default=30.0, gt=1, description="an in-flight slot outlives a dead holder this long")

    # GitHub
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr = SecretStr("")
    github_timeout_s: float = 15.0

    # Jobs and queue
    job_ttl_s: int = 24 * 3600
    job_timeout_s: int = Field(default=600, ge=5, description="ARQ's lease on a running job is this plus 10 s")
    worker_drain_s: int = Field(default=60, ge=0, description="on SIGTERM, time running jobs get to finish")
    worker_max_jobs: int = Field(default=10, ge=1, le=1000)
    worker_max_tries: int = Field(default=3, ge=1, le=20)
    queue_name: str = "estimator:queue"
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=0, description="worker's /healthz, /readyz, /metrics port (0: off)")

    # Gateway limits
    max_body_bytes: int = 2_097_152
    estimate_rate_limit: str = "5/minute"
    chat_rate_limit: str = "20/minute"
    trusted_proxies: list[str] = Field(default_factory=list)
    auth_cache_ttl_s: int = Field(default=60, ge=1, description="a key's owner, cached in Redis")
    auth_local_ttl_s: float = Field(
        default=10.0, ge=0, description="a key's owner, cached in each gateway process (0: off)"
    )
    read_model_ttl_s: int = Field(default=300, ge=1, description="saves reads cached in Redis for the gateways")

    # Commercial
    rate_card: RateCard = Field(default_factory=RateCard)

    # Observability
    log_level: str = "INFO"
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector; traces are exported only when set"
    )

    @model_validator(mode="after")
    def _model_has_a_price(self) -> Settings:
        """Every call's cost is computed in code, so the configured model must have a price."""
        if not any(self.anthropic_model.startswith(name) for name in self.model_prices):
            raise ValueError(f"MODEL_PRICES has no entry for ANTHROPIC_MODEL={self.anthropic_model!r}")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process; tests clear this cache after changing the environment."""
    return Settings()
