"""What Claude calls cost: list prices per model and the USD cost of one call's usage.

Cost is computed in code from the usage the API reports, never asked of the model.
"""

from __future__ import annotations

from anthropic.types import Usage as SdkUsage
from pydantic import BaseModel

from services.shared.contracts import Usage

_PER_MILLION = 1_000_000


class ModelPrice(BaseModel):
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


def default_prices() -> dict[str, ModelPrice]:
    return {
        "claude-sonnet-4-6": ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30),
        "claude-opus-4-6": ModelPrice(input=5.0, output=25.0, cache_write=6.25, cache_read=0.50),
        "claude-haiku-4-5": ModelPrice(input=1.0, output=5.0, cache_write=1.25, cache_read=0.10),
    }


def price_for(prices: dict[str, ModelPrice], model: str) -> ModelPrice:
    """Exact model ids (with dates) are matched to the price of their family name."""
    matches = [name for name in prices if model.startswith(name)]
    if not matches:
        raise ValueError(f"no price configured for model {model!r}")
    return prices[max(matches, key=len)]


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
