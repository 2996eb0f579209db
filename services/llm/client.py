"""The Claude client as every service builds it, and what a call cost.

The SDK's own retries are switched off: retrying is a fleet-wide decision (shared budget, shared
cool-down), taken by our callers, not by each HTTP client on its own.
"""

from __future__ import annotations

from anthropic import AsyncAnthropic
from anthropic.types import Usage as SdkUsage

from services.shared.contracts import Usage
from services.shared.settings import ModelPrice, Settings

_PER_MILLION = 1_000_000


def make_client(settings: Settings) -> AsyncAnthropic:
    return AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value() or None,
        base_url=settings.anthropic_base_url,
        max_retries=0,
        timeout=settings.anthropic_timeout_s,
    )


def price_for(settings: Settings, model: str) -> ModelPrice:
    """Exact model ids (with dates) are matched to the price of their family name."""
    matches = [name for name in settings.model_prices if model.startswith(name)]
    if not matches:
        raise ValueError(f"no price configured for model {model!r}")
    return settings.model_prices[max(matches, key=len)]


def usage_of(sdk_usage: SdkUsage, price: ModelPrice) -> Usage:
    cache_write = sdk_usage.cache_creation_input_tokens or 0
    cache_read = sdk_usage.cache_read_input_tokens or 0
    cost = (
        sdk_usage.input_tokens * price.input
        + sdk_usage.output_tokens * price.output
        + cache_write * price.cache_write
        + cache_read * price.cache_read
    ) / _PER_MILLION
    return Usage(
        calls=1,
        input_tokens=sdk_usage.input_tokens,
        output_tokens=sdk_usage.output_tokens,
        cache_creation_input_tokens=cache_write,
        cache_read_input_tokens=cache_read,
        cost_usd=round(cost, 6),
    )
