"""Settings of the services that call Claude (worker, chat) and of those that watch the fleet budget."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from services.llm.pricing import ModelPrice, default_prices
from services.shared.redis import KEY_PREFIX
from services.shared.settings import CONFIG


class ClaudeSettings(BaseSettings):
    model_config = CONFIG

    anthropic_api_key: SecretStr = Field(default=SecretStr(""), description="Claude API key")
    anthropic_base_url: str | None = Field(default=None, description="Messages API base URL (e.g. the simulator)")
    anthropic_model: str = Field(default="claude-sonnet-4-6", description="must start with a key of MODEL_PRICES")
    anthropic_timeout_s: float = Field(default=300.0, description="SDK timeout per call; a chat turn's deadline")
    estimate_max_tokens: int = Field(default=8000, ge=256, le=64000, description="`max_tokens` of an estimation")
    chat_max_tokens: int = Field(
        default=2000, ge=256, le=64000, description="ceiling of a chat call's learned output allowance"
    )
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=default_prices, description="USD per million tokens, by model-name prefix"
    )

    @model_validator(mode="after")
    def _model_has_a_price(self) -> ClaudeSettings:
        """Every call's cost is computed in code, so the configured model must have a price."""
        if not any(self.anthropic_model.startswith(name) for name in self.model_prices):
            raise ValueError(f"MODEL_PRICES has no entry for ANTHROPIC_MODEL={self.anthropic_model!r}")
        return self


class BudgetSettings(BaseSettings):
    """The fleet-wide Claude budget (defaults: Anthropic tier 2); the operator may override it in Redis."""

    model_config = CONFIG

    llm_rpm: int = Field(default=1000, ge=1, description="fleet-wide Claude requests per minute")
    llm_input_tpm: int = Field(default=450_000, ge=1, description="fleet-wide input tokens per minute")
    llm_output_tpm: int = Field(default=90_000, ge=1, description="fleet-wide output tokens per minute")
    llm_max_in_flight: int = Field(default=50, ge=1, description="fleet-wide Claude calls in flight at once")
    llm_chat_reserve: float = Field(default=0.2, ge=0, lt=1, description="share of every limit kept for chat")
    llm_budget_prefix: str = Field(default=f"{KEY_PREFIX}:budget", description="processes sharing it share one budget")
    llm_admission_margin_s: float = Field(
        default=1.0, ge=0, description="seconds of refill kept in hand when admitting a call"
    )
    llm_refund_delay_s: float = Field(default=1.0, ge=0, description="unused tokens are spendable again after this")
    llm_lease_ttl_s: float = Field(default=30.0, gt=1, description="an in-flight slot outlives a dead holder this long")
    llm_line_stale_s: float = Field(
        default=10.0, gt=2, description="a waiting call not seen for this long (its process died) leaves the line"
    )
    llm_estimate_starve_s: float = Field(
        default=10.0,
        ge=0,
        description="an estimation waiting this long goes before newer chat if chat is over its share",
    )
    llm_chat_max_share: float = Field(
        default=0.6, gt=0, le=1, description="share of the output chat may take while estimations starve"
    )
