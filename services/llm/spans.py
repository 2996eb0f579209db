"""The OpenTelemetry GenAI semantic conventions' attributes of a Claude request span.

Named as the conventions name them (`gen_ai.*`, development status), so a tracing backend that knows
them shows model, token usage and finish reason without configuration. Never the prompt or the answer.
"""

from __future__ import annotations

from anthropic.types import Message
from opentelemetry.util.types import AttributeValue


def request_attributes(model: str, max_tokens: int, priority: str) -> dict[str, AttributeValue]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.system": "anthropic",  # the name before the conventions' 1.37 rename, still read by backends
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": max_tokens,
        "estimator.priority": priority,
    }


def response_attributes(message: Message) -> dict[str, AttributeValue]:
    usage = message.usage
    return {
        "gen_ai.response.id": message.id,
        "gen_ai.response.model": message.model,
        "gen_ai.response.finish_reasons": [message.stop_reason or "unknown"],
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_creation_input_tokens or 0,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read_input_tokens or 0,
    }
