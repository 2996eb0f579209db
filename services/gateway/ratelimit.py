"""Request rate limits shared by every gateway replica (Redis-backed moving windows from `limits`).

Each limited route is counted twice, per client IP and per API key, and refused when either is spent,
so neither many keys behind one address nor one key spread over many addresses gets around it. Failed
authentications are counted per client IP alone (`AUTH_FAILURE_LIMIT`), see `services/gateway/auth.py`.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

from fastapi import Request, Response
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import Counter

from services.gateway.settings import GatewaySettings
from services.shared.errors import ApiError
from services.shared.redis import make_pool

REJECTIONS = Counter("estimator_rate_limit_rejections_total", "Requests refused with 429, by limit", ["limit"])


def storage_uri(redis_url: str) -> str:
    scheme, rest = redis_url.split("://", 1)
    return f"async+{scheme}://{rest}"


@dataclass(frozen=True)
class _Outcome:
    allowed: bool
    limit: int
    remaining: int
    reset_in_s: int


class RateLimits:
    def __init__(self, settings: GatewaySettings) -> None:
        pool = make_pool(settings.redis_url, settings.redis_max_connections, decode_responses=False)
        self.storage = RedisStorage(
            storage_uri(settings.redis_url),
            implementation="redispy",
            connection_pool=pool,  # type: ignore[arg-type]  # limits types its options narrowly
        )
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.rules: dict[str, RateLimitItem] = {
            "estimate": parse(settings.estimate_rate_limit),
            "chat": parse(settings.chat_rate_limit),
        }
        self.auth_failures = parse(settings.auth_failure_limit)
        self.trusted = [ipaddress.ip_network(net, strict=False) for net in settings.trusted_proxies]

    def client_ip(self, request: Request) -> str:
        """The peer address, or the first untrusted hop of X-Forwarded-For when the peer is a trusted proxy."""
        peer = request.client.host if request.client else "unknown"
        if not self._is_trusted(peer):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    async def _hit(self, rule: RateLimitItem, *identity: str) -> _Outcome:
        allowed = await self.limiter.hit(rule, *identity)
        stats = await self.limiter.get_window_stats(rule, *identity)
        reset_in = max(1, math.ceil(stats.reset_time - time.time()))
        return _Outcome(allowed, rule.amount, max(0, stats.remaining), reset_in)

    async def auth_failed(self, request: Request) -> None:
        """Counts one failed authentication of the client's address; 429 if it had none left."""
        identity = ("auth-failures", "ip", self.client_ip(request))
        if not await self.limiter.hit(self.auth_failures, *identity):
            REJECTIONS.labels("auth_failures").inc()
            await self._refuse_auth(identity)

    async def _refuse_auth(self, identity: tuple[str, ...]) -> None:
        stats = await self.limiter.get_window_stats(self.auth_failures, *identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            429,
            "rate_limited",
            f"too many failed authentications from this address; retry in {retry_after}s",
            {"Retry-After": str(retry_after), "RateLimit-Limit": str(self.auth_failures.amount)},
        )

    async def check(self, name: str, request: Request, response: Response, owner: str) -> None:
        rule = self.rules[name]
        by_ip = await self._hit(rule, name, "ip", self.client_ip(request))
        by_key = await self._hit(rule, name, "key", owner)
        tightest = min((by_ip, by_key), key=lambda o: (o.allowed, o.remaining))
        headers = {
            "RateLimit-Limit": str(tightest.limit),
            "RateLimit-Remaining": str(tightest.remaining),
            "RateLimit-Reset": str(tightest.reset_in_s),
        }
        if not (by_ip.allowed and by_key.allowed):
            refused = [o for o in (by_ip, by_key) if not o.allowed]
            retry_after = max(o.reset_in_s for o in refused)
            headers["Retry-After"] = str(retry_after)
            REJECTIONS.labels(name).inc()
            raise ApiError(429, "rate_limited", f"too many requests; retry in {retry_after}s", headers)
        response.headers.update(headers)
