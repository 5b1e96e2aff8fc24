"""Open the job backend, key store and rate limiter chosen by the queue URL's scheme.

`sqlite` (or `sqlite:///path/to.db`) is the embedded default under the data
dir; `redis://…` / `rediss://…` share one Redis between processes. Imports are
lazy so the embedded path never needs the Redis client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from service.config import Settings
from service.errors import KneecaveError
from service.jobs.base import JobBackend
from service.ratelimit import RateLimiter
from service.tenants import KeyStore


@dataclass(frozen=True, slots=True)
class Backends:
    jobs: JobBackend
    keys: KeyStore
    rate: RateLimiter
    kind: str


def backend_kind(url: str) -> str:
    scheme = urlsplit(url).scheme or url
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    raise KneecaveError(f"unknown queue URL scheme {scheme!r} (use sqlite or redis://…)")


def sqlite_path(settings: Settings) -> Path:
    path = urlsplit(settings.queue).path if settings.queue.startswith("sqlite://") else ""
    return Path(path[1:] if path.startswith("//") else path) if path else settings.db_path


@asynccontextmanager
async def open_backends(settings: Settings) -> AsyncIterator[Backends]:
    attempts, retention_s = settings.max_attempts, settings.result_retention_s
    poll_s = min(0.2, settings.poll_s)
    if backend_kind(settings.queue) == "sqlite":
        from service.jobs.sqlite import Database, SqliteJobBackend  # noqa: PLC0415
        from service.jobs.sqlite_keys import SqliteKeyStore  # noqa: PLC0415
        from service.ratelimit import MemoryRateLimiter  # noqa: PLC0415

        db = Database(sqlite_path(settings))
        try:
            yield Backends(
                SqliteJobBackend(db, max_attempts=attempts, retention_s=retention_s, poll_s=poll_s),
                SqliteKeyStore(db),
                MemoryRateLimiter(),
                "sqlite",
            )
        finally:
            db.close()
        return

    try:
        from redis.asyncio import Redis  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - the [redis] extra is missing
        raise KneecaveError("a redis:// queue needs `pip install 'kneecave[redis]'`") from exc
    from service.jobs.redis import RedisJobBackend  # noqa: PLC0415
    from service.jobs.redis_keys import RedisKeyStore  # noqa: PLC0415
    from service.ratelimit import RedisRateLimiter  # noqa: PLC0415

    client = Redis.from_url(settings.queue, decode_responses=True)
    prefix = settings.redis_prefix
    try:
        yield Backends(
            RedisJobBackend(
                client, prefix, max_attempts=attempts, retention_s=retention_s, poll_s=poll_s
            ),
            RedisKeyStore(client, prefix),
            RedisRateLimiter(client, prefix),
            "redis",
        )
    finally:
        await client.aclose()
