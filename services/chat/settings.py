"""The chat service's settings: Claude, the fleet budget, the saves service, and the rate card it prices with."""

from __future__ import annotations

from pydantic import Field

from services.estimation.rate_card import RateCard
from services.llm.settings import BudgetSettings, ClaudeSettings
from services.shared.settings import SavesPeerSettings, loader


class ChatSettings(SavesPeerSettings, ClaudeSettings, BudgetSettings):
    rate_card: RateCard = Field(default_factory=RateCard, description="what revisions are priced with (JSON)")


get_settings = loader(ChatSettings)
