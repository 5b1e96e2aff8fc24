"""Request rate limits: fixed one-minute windows, in memory or in Redis.

Keys are tenants (requests per tenant) and `authfail:<client address>` (failed
authentications per client, which tenant names, free of colons, never collide with).

A fixed window is coarse (a burst of 2x the limit can straddle two windows) but
it costs one INCR per request and is exact across API replicas with Redis.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the embedded backend must not need the Redis client installed
    from redis.asyncio import Redis

WINDOW_S = 60


class RateLimiter(Protocol):
    async def hit(self, tenant: str, limit: int) -> int | None:
        """Count one request; return seconds to wait if over ``limit``, else None."""
        ...

    async def over(self, key: str, limit: int) -> int | None:
        """Seconds to wait if ``key`` already reached ``limit`` this window (counts nothing)."""
        ...


def _retry_after(now: float) -> int:
    return max(1, math.ceil(WINDOW_S - now % WINDOW_S))


class MemoryRateLimiter:
    """For the embedded backend: one API process, so one counter dict is exact."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def hit(self, tenant: str, limit: int) -> int | None:
        now = time.time()
        window = int(now // WINDOW_S)
        if len(self._counts) > 10_000:  # drop old windows now and then
            self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
        n = self._counts.get((tenant, window), 0) + 1
        self._counts[(tenant, window)] = n
        return _retry_after(now) if n > limit else None

    async def over(self, key: str, limit: int) -> int | None:
        now = time.time()
        n = self._counts.get((key, int(now // WINDOW_S)), 0)
        return _retry_after(now) if n >= limit else None


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        # redis-py's stubs type replies as bytes|str|…; with decode_responses they are str.
        self.r: Any = redis
        self.prefix = prefix

    async def hit(self, tenant: str, limit: int) -> int | None:
        now = time.time()
        key = f"{self.prefix}rate:{tenant}:{int(now // WINDOW_S)}"
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_S * 2)
            n, _ = await pipe.execute()
        return _retry_after(now) if int(n) > limit else None

    async def over(self, key: str, limit: int) -> int | None:
        now = time.time()
        n = await self.r.get(f"{self.prefix}rate:{key}:{int(now // WINDOW_S)}")
        return _retry_after(now) if int(n or 0) >= limit else None
