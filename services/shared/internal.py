"""Trust between services: the gateway authenticates users, internal services trust its owner header.

Internal services are never exposed by the ingress; in addition every internal call carries a shared
token (from a Kubernetes Secret) so that a pod reaching them by mistake is refused.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from services.shared.errors import ApiError
from services.shared.settings import ServiceSettings, get_service_settings

# Callers drop idle connections well before servers close them, so no request is ever sent on a
# connection the server is closing at that moment (it fails as a ReadError under load).
INTERNAL_KEEPALIVE_S = 2.0
SERVER_KEEPALIVE_S = 15

OWNER_HEADER = "X-Estimator-Owner"
TOKEN_HEADER = "X-Internal-Token"


def internal_headers(settings: ServiceSettings, owner: str | None = None) -> dict[str, str]:
    headers = {TOKEN_HEADER: settings.internal_token.get_secret_value()}
    if owner is not None:
        headers[OWNER_HEADER] = owner
    return headers


async def require_internal_token(token: Annotated[str, Header(alias=TOKEN_HEADER)] = "") -> None:
    """Async, like every dependency on a hot path: FastAPI runs plain functions in its thread pool."""
    settings = get_service_settings()
    expected = settings.internal_token.get_secret_value()
    if not expected and not settings.development:
        # Never open: a production process without a token refuses to start, and this refuses every call.
        raise ApiError(401, "unauthorized", "this service has no internal token configured")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "missing or invalid internal token")


async def require_owner(owner: Annotated[str, Header(alias=OWNER_HEADER)] = "") -> str:
    if not owner:
        raise ApiError(401, "unauthorized", "missing owner")
    return owner


Owner = Annotated[str, Depends(require_owner)]
InternalAuth = Depends(require_internal_token)
