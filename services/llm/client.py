"""The Claude client as every service builds it.

The SDK's own retries are switched off: retrying is a fleet-wide decision (shared budget, shared
cool-down), taken by our callers, not by each HTTP client on its own.
"""

from __future__ import annotations

from anthropic import AsyncAnthropic

from services.llm.settings import ClaudeSettings


def make_client(settings: ClaudeSettings) -> AsyncAnthropic:
    return AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value() or None,
        base_url=settings.anthropic_base_url,
        max_retries=0,
        timeout=settings.anthropic_timeout_s,
    )
