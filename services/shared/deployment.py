"""Secure by default: a deployment (`ESTIMATOR_ENV=production`, the default) that lacks a secret refuses to start.

The local stack (`make run`) and the tests set `ESTIMATOR_ENV=development`, where a service may start on
the laptop defaults and internal services show their OpenAPI. Anywhere else, every service checks at
startup what it must be given, and `estimator serve` / `estimator worker` stop with one clear line
(exit code 2) instead of serving with internal authentication off.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from services.shared.settings import ServiceSettings

MIN_INTERNAL_TOKEN_CHARS = 16


class ConfigurationError(Exception):
    """What a process was not given and must have; it refuses to start."""


SERVICE_NEEDS = ("internal_token", "redis_url")


def deployment_problems(
    settings: ServiceSettings, *, needs: tuple[str, ...] = (), shared: tuple[str, ...] = SERVICE_NEEDS
) -> list[str]:
    """What a production process lacks; `needs` names the settings of its own it must be given explicitly.

    Every service needs `INTERNAL_TOKEN` and `REDIS_URL` (`shared`; an admin command such as `estimator
    migrate` needs only its own); the defaults of URLs are a laptop's, so a deployment that relies on one
    would silently talk to itself.
    """
    if settings.development:
        return []
    problems = []
    for name in (*shared, *needs):
        if not _given(settings, name):
            problems.append(f"{name.upper()} is not set")
    token = settings.internal_token.get_secret_value().strip()
    if token and len(token) < MIN_INTERNAL_TOKEN_CHARS:
        problems.append(f"INTERNAL_TOKEN is shorter than {MIN_INTERNAL_TOKEN_CHARS} characters")
    return problems


def _given(settings: BaseSettings, name: str) -> bool:
    if name not in settings.model_fields_set:
        return False
    value = getattr(settings, name)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and bool(str(value).strip())


def require_deployment_ready(
    settings: ServiceSettings, service: str, *, needs: tuple[str, ...] = (), shared: tuple[str, ...] = SERVICE_NEEDS
) -> None:
    problems = deployment_problems(settings, needs=needs, shared=shared)
    if problems:
        raise ConfigurationError(
            f"{service} refuses to start with ESTIMATOR_ENV=production: {'; '.join(problems)}. "
            "Give the process these settings (secrets from a Kubernetes Secret), "
            "or set ESTIMATOR_ENV=development to run it on a laptop."
        )


def internal_docs(settings: ServiceSettings) -> dict[str, Any]:
    """FastAPI's `/docs`, `/redoc` and `/openapi.json` for an internal service: off outside development."""
    if settings.development:
        return {}
    return {"docs_url": None, "redoc_url": None, "openapi_url": None}
