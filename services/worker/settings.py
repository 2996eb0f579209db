"""The estimation worker's settings: the queue, Claude and its budget, GitHub, saves and the rate card."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.estimation.methodology import MethodologySettings
from services.estimation.rate_card import RateCard
from services.llm.settings import BudgetSettings, ClaudeSettings
from services.shared.settings import JobSettings, SavesPeerSettings, loader


class WorkerSettings(SavesPeerSettings, JobSettings, ClaudeSettings, BudgetSettings, MethodologySettings):
    github_api_url: str = Field(default="https://api.github.com", description="GitHub REST API base URL")
    github_token: SecretStr = Field(default=SecretStr(""), description="optional; a higher GitHub rate limit")
    github_timeout_s: float = Field(default=15.0, gt=0, description="timeout of each GitHub call")
    job_timeout_s: int = Field(default=600, ge=5, description="how long one try of an estimation may run")
    worker_lease_s: float = Field(
        default=60.0,
        ge=2,
        description="a running job's lease, renewed every quarter of it: a dead worker's job is rerun after this",
    )
    worker_drain_s: int = Field(
        default=60, ge=0, description="on SIGTERM, time running jobs get to finish (grace period: this + 15 s)"
    )
    worker_max_jobs: int = Field(default=10, ge=1, le=1000, description="jobs one worker runs at once")
    worker_max_tries: int = Field(default=3, ge=1, le=20, description="attempts before a job fails")
    worker_metrics_host: str = Field(default="127.0.0.1", description="where /healthz, /readyz, /metrics listen")
    worker_metrics_port: int = Field(default=0, description="port of the worker's probes and metrics (0: off)")
    rate_card: RateCard = Field(default_factory=RateCard, description="what estimates are priced with (JSON)")
    estimate_allowance_quantile: float = Field(
        default=0.95, gt=0, le=1, description="output an estimation reserves: this quantile of recent estimations"
    )
    estimate_min_tokens: int = Field(default=1024, ge=256, description="floor of an estimation's output allowance")
    estimate_initial_tokens: int = Field(
        default=4000,
        ge=256,
        description="what an estimation reserves before any has been measured (about twice a 15-item estimate; "
        "one cut at it is asked again with ESTIMATE_MAX_TOKENS)",
    )
    estimate_probe_calls: int = Field(
        default=4,
        ge=0,
        le=100,
        description="until this many estimations are measured, only this many run at once and the rest wait "
        "for what they used instead of reserving ESTIMATE_INITIAL_TOKENS (0: no waiting)",
    )


get_settings = loader(WorkerSettings)
