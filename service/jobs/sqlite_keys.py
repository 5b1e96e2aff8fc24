"""API keys and tenants in the embedded SQLite database (the KeyStore seam)."""

from __future__ import annotations

import sqlite3

from service.jobs.sqlite import Database
from service.tenants import ApiKeyRecord, TenantLimits


def _record(row: sqlite3.Row) -> ApiKeyRecord:
    return ApiKeyRecord(
        row["id"],
        row["tenant"],
        row["hash"],
        row["created_at"],
        row["revoked_at"],
        bool(row["dev"]),
    )


class SqliteKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_key(self, record: ApiKeyRecord, webhook_secret: str) -> str:
        def add(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT OR IGNORE INTO tenants (name, webhook_secret, created_at) VALUES (?, ?, ?)",
                (record.tenant, webhook_secret, record.created_at),
            )
            conn.execute(
                "INSERT INTO api_keys (id, tenant, hash, created_at, revoked_at, dev)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, record.tenant, record.hash, record.created_at, None, int(record.dev)),
            )
            row = conn.execute(
                "SELECT webhook_secret FROM tenants WHERE name = ?", (record.tenant,)
            ).fetchone()
            return str(row[0])

        return await self.db.run(add)

    async def get_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self.db.run(
            lambda c: c.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone(),
            write=False,
        )
        return None if row is None else _record(row)

    async def list_keys(self) -> list[ApiKeyRecord]:
        rows = await self.db.run(
            lambda c: c.execute("SELECT * FROM api_keys ORDER BY created_at").fetchall(),
            write=False,
        )
        return [_record(r) for r in rows]

    async def revoke(self, key_id: str, now: float) -> bool:
        cur = await self.db.run(
            lambda c: c.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, key_id),
            )
        )
        return cur.rowcount > 0

    async def webhook_secret(self, tenant: str) -> str | None:
        row = await self.db.run(
            lambda c: c.execute(
                "SELECT webhook_secret FROM tenants WHERE name = ?", (tenant,)
            ).fetchone(),
            write=False,
        )
        return None if row is None else str(row[0])

    async def landmarks_enabled(self, tenant: str) -> bool:
        sql = "SELECT landmarks FROM tenants WHERE name = ?"
        row = await self.db.run(lambda c: c.execute(sql, (tenant,)).fetchone(), write=False)
        return row is None or bool(row[0])

    async def set_landmarks(self, tenant: str, enabled: bool) -> None:
        await self.db.run(
            lambda c: c.execute(
                "UPDATE tenants SET landmarks = ? WHERE name = ?", (int(enabled), tenant)
            )
        )

    async def limits(self, tenant: str) -> TenantLimits:
        sql = "SELECT max_active, rate, poll_rate FROM tenants WHERE name = ?"
        row = await self.db.run(lambda c: c.execute(sql, (tenant,)).fetchone(), write=False)
        return TenantLimits() if row is None else TenantLimits(*row)

    async def set_limits(self, tenant: str, limits: TenantLimits) -> None:
        await self.db.run(
            lambda c: c.execute(
                "UPDATE tenants SET max_active = ?, rate = ?, poll_rate = ? WHERE name = ?",
                (limits.max_active, limits.rate, limits.poll_rate, tenant),
            )
        )
