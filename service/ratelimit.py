"""Request rate limits: fixed one-minute windows, in memory or in Redis, told to clients.

Three budgets (policies): a tenant's `submit` budget (requests that change
something: uploads, keypoints, cancel, delete, test webhooks), its `poll`
budget (reads), so an app following its jobs never starves its own uploads,
and `auth`, failed authentications per client address. Counter keys are
`<policy>:<tenant or address>`; tenant names are free of colons, so they never
collide.

A fixed window is coarse (a burst of 2x the limit can straddle two windows) but
it costs one INCR per request and is exact across API replicas with Redis. Each
answer carries the budget it was counted against as IETF RateLimit header
fields (draft-ietf-httpapi-ratelimit-headers), so clients can slow down before
a 429.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the embedded backend must not need the Redis client installed
    from redis.asyncio import Redis

WINDOW_S = 60

SUBMIT = "submit"
POLL = "poll"
AUTH = "auth"


@dataclass(frozen=True, slots=True)
class Quota:
    """A budget as it stands after this request."""

    policy: str
    limit: int
    used: int
    reset_s: int  # seconds until the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit};w={WINDOW_S}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset_s}',
        }


class RateLimiter(Protocol):
    async def hit(self, key: str) -> tuple[int, int]:
        """Count one request for ``key``: (requests this window, seconds to its end)."""
        ...

    async def peek(self, key: str) -> tuple[int, int]:
        """The same as `hit` without counting."""
        ...


async def take(limiter: RateLimiter, policy: str, subject: str, limit: int) -> Quota:
    used, reset_s = await limiter.hit(f"{policy}:{subject}")
    return Quota(policy, limit, used, reset_s)


async def look(limiter: RateLimiter, policy: str, subject: str, limit: int) -> Quota:
    used, reset_s = await limiter.peek(f"{policy}:{subject}")
    return Quota(policy, limit, used, reset_s)


def _window(now: float) -> tuple[int, int]:
    return int(now // WINDOW_S), max(1, math.ceil(WINDOW_S - now % WINDOW_S))


class MemoryRateLimiter:
    """For the embedded backend: one API process, so one counter dict is exact.

    Only the current window is kept: a new window starts an empty dict, so memory is
    bounded by one minute's distinct keys and no request pays for a clean-up."""

    def __init__(self) -> None:
        self._window = -1
        self._counts: dict[str, int] = {}

    def _current(self) -> tuple[dict[str, int], int]:
        window, reset_s = _window(time.time())
        if window != self._window:
            self._window, self._counts = window, {}
        return self._counts, reset_s

    async def hit(self, key: str) -> tuple[int, int]:
        counts, reset_s = self._current()
        counts[key] = counts.get(key, 0) + 1
        return counts[key], reset_s

    async def peek(self, key: str) -> tuple[int, int]:
        counts, reset_s = self._current()
        return counts.get(key, 0), reset_s


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        # redis-py's stubs type replies as bytes|str|…; with decode_responses they are str.
        self.r: Any = redis
        self.prefix = prefix

    async def hit(self, key: str) -> tuple[int, int]:
        window, reset_s = _window(time.time())
        name = f"{self.prefix}rate:{key}:{window}"
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, WINDOW_S * 2)
            n, _ = await pipe.execute()
        return int(n), reset_s

    async def peek(self, key: str) -> tuple[int, int]:
        window, reset_s = _window(time.time())
        n = await self.r.get(f"{self.prefix}rate:{key}:{window}")
        return int(n or 0), reset_s
