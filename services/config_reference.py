"""The configuration reference, made from the settings classes themselves so it cannot drift from them.

`estimator config` prints it; `docs/configuration.md` holds a copy that a test compares with it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from estimator_operator.settings import OperatorSettings
from services.chat.settings import ChatSettings
from services.gateway.settings import GatewaySettings
from services.saves.settings import SavesSettings
from services.worker.settings import WorkerSettings

SERVICES: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "chat": ChatSettings,
    "saves": SavesSettings,
    "worker": WorkerSettings,
    "operator": OperatorSettings,
}
MAX_DEFAULT_CHARS = 60


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return '`""`' if not value.get_secret_value() else "(secret)"
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    elif isinstance(value, dict):
        value = {k: v.model_dump(mode="json") if hasattr(v, "model_dump") else v for k, v in value.items()}
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return "(see the code)" if len(text) > MAX_DEFAULT_CHARS else f"`{text}`"


def markdown() -> str:
    """One row per variable, with the services that read it ticked."""
    rows: dict[str, tuple[str, str, set[str]]] = {}
    for service, cls in SERVICES.items():
        for name, field in cls.model_fields.items():
            default = field.get_default(call_default_factory=True)
            described = rows.get(name, (_default(default), field.description or "", set()))
            described[2].add(service)
            rows[name] = described
    header = "| Variable | Default | " + " | ".join(SERVICES) + " | Meaning |"
    lines = [header, "|" + " --- |" * (len(SERVICES) + 3)]
    order = list(rows)
    # What most services read first, then each service's own, in the order its class declares them.
    for name, (default, meaning, readers) in sorted(
        rows.items(), key=lambda row: (-len(row[1][2]), order.index(row[0]))
    ):
        ticks = " | ".join("✓" if service in readers else "" for service in SERVICES)
        lines.append(f"| `{name.upper()}` | {default} | {ticks} | {meaning} |")
    return "\n".join(lines) + "\n"
