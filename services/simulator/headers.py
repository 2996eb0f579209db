"""Response headers every Anthropic response carries, stamped in one place so errors get them too."""

from __future__ import annotations

import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.simulator.ratelimit import RateLimiter


class AnthropicHeadersMiddleware:
    """`request-id` on every response; the `anthropic-ratelimit-*` headers on every `/v1/` response.

    The rate-limit figures are read when the response starts, so they include the request they answer.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_sim_{uuid.uuid4().hex[:24]}"
        scope.setdefault("state", {})["request_id"] = request_id
        api_call = str(scope["path"]).startswith("/v1/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["request-id"] = request_id
                if api_call:
                    headers.update(self.limiter.headers())
            await send(message)

        await self.app(scope, receive, send_with_headers)
