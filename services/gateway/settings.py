"""The gateway's settings: limits at the edge, where its peers are, and the caches in front of them."""

from __future__ import annotations

from pydantic import Field

from services.llm.settings import BudgetSettings
from services.shared.local import LOCAL_URLS
from services.shared.settings import HttpSettings, JobSettings, ReadModelSettings, SavesPeerSettings, loader


class GatewaySettings(SavesPeerSettings, HttpSettings, JobSettings, ReadModelSettings, BudgetSettings):
    """The budget's limits are read only to export them as gauges: the gateway never calls Claude."""

    chat_url: str = Field(default=LOCAL_URLS.chat, description="where the chat service answers")
    chat_timeout_s: float = Field(default=300.0, gt=0, description="how long a chat turn may take, end to end")
    max_body_bytes: int = Field(default=2_097_152, ge=1, description="request bodies over this get 413")
    estimate_rate_limit: str = Field(default="5/minute", description="per client address and per API key")
    chat_rate_limit: str = Field(default="20/minute", description="per client address and per API key")
    auth_failure_limit: str = Field(
        default="20/minute", description="failed authentications per client address, then 429"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="networks whose X-Forwarded-For is believed (JSON list)"
    )
    auth_cache_ttl_s: int = Field(default=60, ge=1, description="a key's owner, cached in Redis")
    auth_local_ttl_s: float = Field(
        default=10.0, ge=0, description="a key's owner, cached in each gateway process (0: off)"
    )


get_settings = loader(GatewaySettings)
