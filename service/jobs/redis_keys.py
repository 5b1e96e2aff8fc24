"""API keys and tenants in Redis (the KeyStore seam), shared by every API process."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from service.tenants import ApiKeyRecord, TenantLimits

_LIMIT_FIELDS = ("max_active", "rate", "poll_rate")  # fields of the tenant's hash; "" = unset


class RedisKeyStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        # redis-py's stubs type replies as bytes|str|…; with decode_responses they are str.
        self.r: Any = redis
        self.prefix = prefix
        self.index = f"{prefix}apikeys"

    def _key(self, key_id: str) -> str:
        return f"{self.prefix}apikey:{key_id}"

    def _tenant(self, tenant: str) -> str:
        return f"{self.prefix}tenant:{tenant}"

    async def add_key(self, record: ApiKeyRecord, webhook_secret: str) -> str:
        await self.r.hsetnx(self._tenant(record.tenant), "webhook_secret", webhook_secret)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._key(record.id),
                mapping={
                    "tenant": record.tenant,
                    "hash": record.hash,
                    "created_at": record.created_at,
                    "dev": int(record.dev),
                },
            )
            pipe.sadd(self.index, record.id)
            await pipe.execute()
        return str(await self.r.hget(self._tenant(record.tenant), "webhook_secret"))

    async def get_key(self, key_id: str) -> ApiKeyRecord | None:
        raw = await self.r.hgetall(self._key(key_id))
        if not raw:
            return None
        revoked = raw.get("revoked_at")
        return ApiKeyRecord(
            key_id,
            raw["tenant"],
            raw["hash"],
            float(raw["created_at"]),
            float(revoked) if revoked else None,
            raw.get("dev") == "1",
        )

    async def list_keys(self) -> list[ApiKeyRecord]:
        records = [await self.get_key(k) for k in await self.r.smembers(self.index)]
        return sorted((r for r in records if r is not None), key=lambda r: r.created_at)

    async def revoke(self, key_id: str, now: float) -> bool:
        record = await self.get_key(key_id)
        if record is None or record.revoked_at is not None:
            return False
        await self.r.hset(self._key(key_id), "revoked_at", now)
        return True

    async def webhook_secret(self, tenant: str) -> str | None:
        secret = await self.r.hget(self._tenant(tenant), "webhook_secret")
        return None if secret is None else str(secret)

    async def landmarks_enabled(self, tenant: str) -> bool:
        return bool(await self.r.hget(self._tenant(tenant), "landmarks") != "0")

    async def set_landmarks(self, tenant: str, enabled: bool) -> None:
        await self.r.hset(self._tenant(tenant), "landmarks", int(enabled))

    async def limits(self, tenant: str) -> TenantLimits:
        raw = await self.r.hmget(self._tenant(tenant), _LIMIT_FIELDS)
        return TenantLimits(*(None if v in (None, "") else int(v) for v in raw))

    async def set_limits(self, tenant: str, limits: TenantLimits) -> None:
        values = (limits.max_active, limits.rate, limits.poll_rate)
        await self.r.hset(
            self._tenant(tenant),
            mapping={f: "" if v is None else v for f, v in zip(_LIMIT_FIELDS, values, strict=True)},
        )
