"""The chat service's settings: Claude, the fleet budget, the saves service, and the rate card it prices with."""

from __future__ import annotations

from pydantic import Field

from services.estimation.methodology import MethodologySettings
from services.estimation.rate_card import RateCard
from services.llm.settings import BudgetSettings, ClaudeSettings
from services.shared.redis import KEY_PREFIX
from services.shared.settings import HttpSettings, SavesPeerSettings, loader


class ChatSettings(SavesPeerSettings, HttpSettings, ClaudeSettings, BudgetSettings, MethodologySettings):
    rate_card: RateCard = Field(default_factory=RateCard, description="what revisions are priced with (JSON)")
    chat_max_wait_s: float = Field(
        default=20.0, gt=0, description="a turn that cannot start within this is refused (503, nothing charged)"
    )
    chat_sync_wait_s: float = Field(
        default=25.0, gt=0, le=55, description="a JSON turn still running after this is answered 202 (ingress-safe)"
    )
    chat_drain_s: float = Field(
        default=300.0, ge=0, description="on SIGTERM, turns in progress get this long to finish and be stored"
    )
    chat_turn_lease_s: float = Field(default=30.0, gt=1, description="a dead replica's turn frees its save this late")
    chat_allowance_quantile: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="output a chat call reserves: this quantile of recent calls of its kind (a longer answer is "
        "continued by another call)",
    )
    chat_edit_allowance_quantile: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="the same for a revision's first call, which makes the edit (an edit cut short is made again "
        "whole)",
    )
    chat_min_tokens: int = Field(default=32, ge=16, description="floor of a chat call's output allowance")
    chat_key_prefix: str = Field(
        default=f"{KEY_PREFIX}:chat", description="Redis keys of turns in progress and of learned allowances"
    )


get_settings = loader(ChatSettings)
