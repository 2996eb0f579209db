"""Bounds on a request's head (request line and headers), on every HTTP service.

Two layers, because either alone falls short:

- `RequestHeadLimitMiddleware` (ASGI) answers `431 headers_too_large` when one header line is over
  `MAX_HEADER_FIELD_BYTES` or all of them together are over `MAX_HEADER_BYTES`, and `414 uri_too_long`
  when the request target is over `MAX_HEADER_FIELD_BYTES`, before any route runs. It works under any
  server, in-process tests included, but it only sees a head the server has already read in full.
- `BoundedHttpToolsProtocol` (what `estimator serve` runs uvicorn with) stops reading a head that grows
  past both limits together and answers 431 itself, so a megabyte of headers is never buffered (httptools
  would otherwise keep all of it, and grow each header by concatenation).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.shared.errors import error_body, error_response
from services.shared.settings import get_http_settings

HEADERS_TOO_LARGE = (431, "headers_too_large")
LINGER_S = 2.0  # after refusing a head, how long what the client still sends is read and dropped
URI_TOO_LONG = (414, "uri_too_long")


class RequestHeadLimitMiddleware:
    """431 for oversized headers, 414 for an oversized request target (pure ASGI, before routing)."""

    def __init__(self, app: ASGIApp, max_header_bytes: int, max_header_field_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_header_field_bytes = max_header_field_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                (status, code), message = refusal
                await error_response(status, code, message, {"Connection": "close"})(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[tuple[int, str], str] | None:
        total = 0
        for name, value in scope["headers"]:
            size = len(name) + len(value)
            if size > self.max_header_field_bytes:
                return HEADERS_TOO_LARGE, f"a request header is over {self.max_header_field_bytes} bytes"
            total += size
        if total > self.max_header_bytes:
            return HEADERS_TOO_LARGE, f"request headers are over {self.max_header_bytes} bytes in total"
        target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if target > self.max_header_field_bytes:
            return URI_TOO_LONG, f"the request target is over {self.max_header_field_bytes} bytes"
        return None


def install_request_limits(app: Any) -> None:
    """Adds the middleware with the configured limits; call it last, so that it runs first."""
    limits = get_http_settings()
    app.add_middleware(
        RequestHeadLimitMiddleware,
        max_header_bytes=limits.max_header_bytes,
        max_header_field_bytes=limits.max_header_field_bytes,
    )


def _refusal_bytes(limit: int) -> bytes:
    body = json.dumps(error_body(HEADERS_TOO_LARGE[1], f"the request head is over {limit} bytes")).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that refuses, without buffering it, a head over both limits together.

    Bytes are counted from the end of one request's head (or the connection's start) until the next
    head is complete; past `MAX_HEADER_BYTES + MAX_HEADER_FIELD_BYTES` (headers plus a request line) the
    client gets 431 and the connection is closed. Below that, the middleware applies the exact limits.
    """

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = get_http_settings()
        self.head_limit = limits.max_header_bytes + limits.max_header_field_bytes
        self.head_bytes = 0
        self.reading_head = True
        self.refused = False
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        if self.reading_head:
            self.head_bytes += self.head_part(data)
            if self.head_bytes > self.head_limit:
                self.refuse_head()
                return
        super().data_received(data)

    def head_part(self, data: bytes) -> int:
        """How many bytes of `data` belong to the head being read: up to its blank line, if `data` holds it.

        A body that arrives with its head is not the head's. `tail` keeps the last bytes of the previous
        chunk, so that a blank line split between two chunks is found.
        """
        carried = self.tail
        window = carried + data
        self.tail = window[-3:]
        ends = [found + len(mark) for mark in (b"\n\r\n", b"\n\n") if (found := window.find(mark)) >= 0]
        if not ends:
            return len(data)
        return max(0, min(ends) - len(carried))

    def refuse_head(self) -> None:
        """Answers 431, then reads and drops what the client still sends for a moment before closing.

        Closing at once, with the client still writing its head, would reset the connection and the
        client would most likely never read the answer. `head_bytes` stays over the limit, so nothing
        more reaches the parser.
        """
        if self.refused or self.transport.is_closing():
            return
        self.refused = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is still being written on this connection: no clean answer
            return
        self.transport.write(_refusal_bytes(self.head_limit))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.head_bytes = 0
        self.tail = b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_head = True
