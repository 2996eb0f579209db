"""How one simulator instance behaves, read from `SIM_*` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.local import LOCAL_PORTS
from services.simulator.faults import FaultSpec


class SimulatorConfig(BaseSettings):
    """Limits default to a modest Anthropic tier so load tests meet 429s the way production would.

    Pacing defaults to Claude Sonnet through Anthropic's API as commonly published (about 60 output
    tokens a second, a first token after about a second; see docs/simulator.md); tests set it fast.
    `faults` takes a JSON list, e.g. `SIM_FAULTS='[{"kind": "overloaded", "count": 2}]'`.
    """

    model_config = SettingsConfigDict(env_prefix="SIM_", env_file=None, extra="ignore")

    host: str = "0.0.0.0"
    port: int = Field(default=LOCAL_PORTS.simulator, ge=1, le=65535)
    rpm: int = Field(default=1000, ge=1)
    input_tpm: int = Field(default=450_000, ge=1)
    output_tpm: int = Field(default=90_000, ge=1)
    tokens_per_second: float = Field(default=60.0, gt=0)
    first_token_latency_s: float = Field(default=1.0, ge=0)
    min_cacheable_tokens: int = Field(default=1024, ge=1)
    cache_ttl_s: float = Field(default=300.0, gt=0)
    cache_max_entries: int = Field(default=10_000, ge=1)
    ping_interval_s: float = Field(default=10.0, gt=0)
    faults: list[FaultSpec] = Field(default_factory=list)
    control_token: SecretStr = Field(
        default=SecretStr(""), description="`X-Sim-Control-Token` the control API (`/_sim/*`) needs; unset: off"
    )
