"""Request rate limits shared by every gateway replica: moving windows in Redis, one round trip a request.

Each limited route is counted twice, per client IP and per API key, and refused when either is spent,
so neither many keys behind one address nor one key spread over many addresses gets around it. Failed
authentications are counted per client IP alone (`AUTH_FAILURE_LIMIT`), see `services/gateway/auth.py`.

The windows are our own script, not `limits`' strategies (whose `parse` still reads the settings):
`limits` answers a hit and the window's stats in two calls, so a route counted per address and per key
cost four Redis round trips, 8 % of the gateway's CPU under the plan's 1000-user mix (py-spy,
2026-12-04), and it records the address's hit even when the key's then refuses. The script checks
both windows, records the request in both only if both have room, and returns what the headers need.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis
from fastapi import Request, Response
from limits import RateLimitItem, parse
from prometheus_client import Counter

from services.gateway.settings import GatewaySettings
from services.shared.errors import ApiError
from services.shared.redis import KEY_PREFIX

REJECTIONS = Counter("estimator_rate_limit_rejections_total", "Requests refused with 429, by limit", ["limit"])

# KEYS: one sorted set per identity (members are request stamps, scored by arrival in ms, Redis's clock so
# that every replica agrees). ARGV: limit, window ms, a token that makes this request's member unique.
# Returns {allowed, then per key: requests left, ms until its window next frees a place}.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local counts, allowed = {}, 1
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  counts[i] = redis.call('ZCARD', key)
  if counts[i] >= limit then allowed = 0 end
end
local out = {allowed}
for i, key in ipairs(KEYS) do
  if allowed == 1 then
    redis.call('ZADD', key, now, now .. ':' .. ARGV[3])
    redis.call('PEXPIRE', key, window)
    counts[i] = counts[i] + 1
  end
  local reset = 0
  if counts[i] > 0 then
    local next_out = math.max(0, counts[i] - limit)
    local frees = redis.call('ZRANGE', key, next_out, next_out, 'WITHSCORES')
    reset = tonumber(frees[2]) + window - now
  end
  out[#out + 1] = math.max(0, limit - counts[i])
  out[#out + 1] = reset
end
return out
"""


@dataclass(frozen=True)
class _Window:
    remaining: int
    reset_s: int
    """Seconds until the window frees a place (the oldest request counted in it leaves), at least 1."""


class RateLimits:
    def __init__(self, settings: GatewaySettings, redis: aioredis.Redis) -> None:
        self._hit_script = redis.register_script(_HIT)
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

    async def _hit(self, rule: RateLimitItem, *identities: str) -> tuple[bool, list[_Window]]:
        """Counts one request against every identity's window, or against none if any is spent."""
        # The rule is part of the key, as it was under `limits`: a changed limit starts from empty windows.
        keys = [f"{KEY_PREFIX}:rate:{rule.amount}/{rule.get_expiry()}s:{identity}" for identity in identities]
        raw = await self._hit_script(keys=keys, args=[rule.amount, rule.get_expiry() * 1000, secrets.token_hex(4)])
        values = [int(value) for value in raw]
        windows = [
            _Window(remaining, max(1, -(-reset_ms // 1000)))
            for remaining, reset_ms in zip(values[1::2], values[2::2], strict=True)
        ]
        return bool(values[0]), windows

    async def auth_failed(self, request: Request) -> None:
        """Counts one failed authentication of the client's address; 429 if it had none left."""
        allowed, (window,) = await self._hit(self.auth_failures, f"auth-failures:ip:{self.client_ip(request)}")
        if not allowed:
            REJECTIONS.labels("auth_failures").inc()
            retry_after = window.reset_s
            raise ApiError(
                429,
                "rate_limited",
                f"too many failed authentications from this address; retry in {retry_after}s",
                {"Retry-After": str(retry_after), "RateLimit-Limit": str(self.auth_failures.amount)},
            )

    async def check(self, name: str, request: Request, response: Response, owner: str) -> None:
        rule = self.rules[name]
        allowed, windows = await self._hit(rule, f"{name}:ip:{self.client_ip(request)}", f"{name}:key:{owner}")
        tightest = min(windows, key=lambda w: w.remaining)
        headers = {
            "RateLimit-Limit": str(rule.amount),
            "RateLimit-Remaining": str(tightest.remaining),
            "RateLimit-Reset": str(tightest.reset_s),
        }
        if not allowed:
            retry_after = max(w.reset_s for w in windows if w.remaining == 0)
            headers["Retry-After"] = str(retry_after)
            REJECTIONS.labels(name).inc()
            raise ApiError(429, "rate_limited", f"too many requests; retry in {retry_after}s", headers)
        response.headers.update(headers)
