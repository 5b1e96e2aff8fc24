"""Embedded backend: jobs, queue, keys and stats in one SQLite file (WAL).

The `jobs` table is the queue: a worker's candidate is the oldest row that is
queued or whose lease expired; the claim itself is a compare-and-set in
`JobBackend.claim`. Several processes may share the file (WAL + BEGIN
IMMEDIATE + busy timeout); within a process one connection is guarded by a lock
and used from worker threads so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from service.jobs.base import DURATION_BUCKETS_S, ActiveLimitReachedError, JobBackend, Mutation
from service.jobs.model import Job, JobPosition, JobStatus, Lease

T = TypeVar("T")

# Ordered migrations; PRAGMA user_version records how many ran (saq's migration list).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        lease_expires_at REAL,
        expires_at REAL,
        idem_key TEXT,
        data TEXT NOT NULL
    );
    CREATE UNIQUE INDEX jobs_idem ON jobs(tenant, idem_key) WHERE idem_key IS NOT NULL;
    CREATE INDEX jobs_tenant ON jobs(tenant, created_at);
    CREATE INDEX jobs_status ON jobs(status, created_at);
    CREATE INDEX jobs_expires ON jobs(expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE tenants (
        name TEXT PRIMARY KEY, webhook_secret TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, hash TEXT NOT NULL,
        created_at REAL NOT NULL, revoked_at REAL, dev INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE stats (name TEXT PRIMARY KEY, value REAL NOT NULL);
    """,
    # Landmarks for the overlay (gzipped JSON), one row per succeeded job, removed with it;
    # a tenant may opt out of keeping them.
    """
    CREATE TABLE landmarks (job_id TEXT PRIMARY KEY, data BLOB NOT NULL);
    ALTER TABLE tenants ADD COLUMN landmarks INTEGER NOT NULL DEFAULT 1;
    """,
    # Per-tenant limits; NULL keeps the server's setting.
    """
    ALTER TABLE tenants ADD COLUMN max_active INTEGER;
    ALTER TABLE tenants ADD COLUMN rate INTEGER;
    ALTER TABLE tenants ADD COLUMN poll_rate INTEGER;
    """,
    # Named leases (one process at a time does a thing: exporting backend-wide metrics).
    """
    CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);
    """,
)


class Database:
    """One SQLite connection per thread (WAL: readers never wait for the writer).

    Reads are point lookups that take microseconds, so they run inline on the
    calling thread, event loop included; writes may wait for another process's
    write lock (busy timeout), so `run(write=True)` sends them to a thread.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Webhook secrets and key hashes live here: owner-only, and so are the -wal and
        # -shm files SQLite creates next to it (it copies the database file's mode).
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        path.chmod(0o600)
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self.transact(self._migrate)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={i}")

    def transact(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` inside BEGIN IMMEDIATE … COMMIT (blocking; call via `run`)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return out

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return fn(self._conn())

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        if write:
            return await asyncio.to_thread(self.transact, fn)
        return self.read(fn)

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def _row_values(job: Job) -> tuple[str, str, float, float | None, float | None, str | None, str]:
    return (
        job.status.value,
        job.tenant,
        job.created_at,
        job.lease_expires_at,
        job.expires_at,
        job.idempotency_key,
        job.model_dump_json(),
    )


def _active(conn: sqlite3.Connection, tenant: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM jobs WHERE tenant = ? AND status IN (?, ?)",
        (tenant, JobStatus.QUEUED.value, JobStatus.PROCESSING.value),
    ).fetchone()
    return int(row[0])


def _write(conn: sqlite3.Connection, job: Job) -> None:
    status, tenant, created, lease, expires, idem, data = _row_values(job)
    conn.execute(
        "INSERT INTO jobs (id, status, tenant, created_at, lease_expires_at, expires_at,"
        " idem_key, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET status=excluded.status,"
        " lease_expires_at=excluded.lease_expires_at, expires_at=excluded.expires_at,"
        " data=excluded.data",
        (job.id, status, tenant, created, lease, expires, idem, data),
    )


def _read(conn: sqlite3.Connection, job_id: str) -> Job | None:
    row = conn.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else Job.model_validate_json(row["data"])


class SqliteJobBackend(JobBackend):
    def __init__(
        self, db: Database, *, max_attempts: int, retention_s: float, poll_s: float = 0.2
    ) -> None:
        super().__init__(max_attempts=max_attempts, retention_s=retention_s, poll_s=poll_s)
        self.db = db

    async def _insert(self, job: Job, idempotency_key: str | None, max_active: int | None) -> Job:
        def insert(conn: sqlite3.Connection) -> Job:
            # One BEGIN IMMEDIATE transaction: the count and the insert cannot interleave.
            if idempotency_key is not None:
                row = conn.execute(
                    "SELECT data FROM jobs WHERE tenant = ? AND idem_key = ?",
                    (job.tenant, idempotency_key),
                ).fetchone()
                if row is not None:
                    return Job.model_validate_json(row["data"])
            if max_active is not None and _active(conn, job.tenant) >= max_active:
                raise ActiveLimitReachedError(job.tenant)
            _write(conn, job)
            return job

        return await self.db.run(insert)

    async def _load(self, job_id: str) -> Job | None:
        return await self.db.run(lambda c: _read(c, job_id), write=False)

    async def _find_by_key(self, tenant: str, key: str) -> Job | None:
        row = await self.db.run(
            lambda c: c.execute(
                "SELECT data FROM jobs WHERE tenant = ? AND idem_key = ?", (tenant, key)
            ).fetchone(),
            write=False,
        )
        return None if row is None else Job.model_validate_json(row["data"])

    async def _mutate(self, job_id: str, fn: Mutation) -> Job | None:
        def mutate(conn: sqlite3.Connection) -> Job | None:
            job = _read(conn, job_id)
            new = None if job is None else fn(job)
            if new is not None:
                _write(conn, new)
            return new

        return await self.db.run(mutate)

    async def _list(self, tenant: str, limit: int, before: JobPosition | None) -> list[Job]:
        if before is None:
            sql = "SELECT data FROM jobs WHERE tenant = ? ORDER BY created_at DESC, id DESC LIMIT ?"
            args: tuple[Any, ...] = (tenant, limit)
        else:
            sql = (
                "SELECT data FROM jobs WHERE tenant = ? AND (created_at, id) < (?, ?)"
                " ORDER BY created_at DESC, id DESC LIMIT ?"
            )
            args = (tenant, before.created_at, before.job_id, limit)
        rows = await self.db.run(lambda c: c.execute(sql, args).fetchall(), write=False)
        return [Job.model_validate_json(r["data"]) for r in rows]

    async def _remove(self, job: Job) -> None:
        def remove(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
            conn.execute("DELETE FROM landmarks WHERE job_id = ?", (job.id,))

        await self.db.run(remove)

    async def _put_landmarks(self, job_id: str, data: bytes) -> None:
        await self.db.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO landmarks (job_id, data) VALUES (?, ?)", (job_id, data)
            )
        )

    async def _get_landmarks(self, job_id: str) -> bytes | None:
        sql = "SELECT data FROM landmarks WHERE job_id = ?"
        row = await self.db.run(lambda c: c.execute(sql, (job_id,)).fetchone(), write=False)
        return None if row is None else bytes(row[0])

    async def _drop_landmarks(self, job_id: str) -> None:
        await self.db.run(lambda c: c.execute("DELETE FROM landmarks WHERE job_id = ?", (job_id,)))

    async def _drop_tenant_landmarks(self, tenant: str) -> None:
        await self.db.run(
            lambda c: c.execute(
                "DELETE FROM landmarks WHERE job_id IN (SELECT id FROM jobs WHERE tenant = ?)",
                (tenant,),
            )
        )

    async def _active_count(self, tenant: str) -> int:
        return await self.db.run(lambda c: _active(c, tenant), write=False)

    async def _status_counts(self) -> dict[JobStatus, int]:
        rows = await self.db.run(
            lambda c: c.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall(),
            write=False,
        )
        counts = dict.fromkeys(JobStatus, 0)
        counts.update({JobStatus(r[0]): int(r[1]) for r in rows})
        return counts

    async def _expired(self, now: float, limit: int) -> list[str]:
        rows = await self.db.run(
            lambda c: c.execute(
                "SELECT id FROM jobs WHERE expires_at <= ? LIMIT ?", (now, limit)
            ).fetchall(),
            write=False,
        )
        return [r[0] for r in rows]

    async def _enqueue(self, job: Job) -> None:
        return None  # the row itself is the queue entry

    def _candidate(self, now: float) -> tuple[str, str] | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id FROM jobs WHERE status = ?"
                " OR (status = ? AND (lease_expires_at IS NULL OR lease_expires_at <= ?))"
                " ORDER BY created_at LIMIT 1",
                (JobStatus.QUEUED.value, JobStatus.PROCESSING.value, now),
            ).fetchone()
        )
        return None if row is None else (str(row[0]), "")

    async def _reserve(
        self, worker_id: str, lease_s: float, timeout_s: float
    ) -> tuple[str, str] | None:
        deadline = self.clock() + timeout_s
        while True:
            found = self._candidate(self.clock())
            if found is not None or self.clock() >= deadline:
                return found
            await asyncio.sleep(min(self.poll_s, max(0.0, deadline - self.clock())))

    async def _touch(self, lease: Lease) -> None:
        return None  # the lease expiry column was extended by the heartbeat's mutation

    async def _ack(self, lease: Lease) -> None:
        return None  # a terminal row is never a candidate again

    async def _requeue(self, lease: Lease) -> None:
        return None  # status `queued` makes it a candidate again

    async def record_outcome(self, code: str, duration_s: float | None, frames: int) -> None:
        increments = {f"jobs_total:{code}": 1.0}
        if duration_s is not None:
            increments["duration_count"] = 1.0
            increments["duration_sum"] = duration_s
            increments["frames_total"] = float(frames)
            for bound in DURATION_BUCKETS_S:
                if duration_s <= bound:
                    increments[f"duration_bucket:{bound:g}"] = 1.0

        def add(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO stats (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                list(increments.items()),
            )

        await self.db.run(add)

    async def stats(self) -> dict[str, float]:
        rows = await self.db.run(
            lambda c: c.execute("SELECT name, value FROM stats").fetchall(), write=False
        )
        return {str(r[0]): float(r[1]) for r in rows}

    async def hold(self, name: str, holder: str, ttl_s: float) -> bool:
        now = self.clock()

        def hold(conn: sqlite3.Connection) -> bool:
            conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,"
                " expires_at = excluded.expires_at"
                " WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
                (name, holder, now + ttl_s, now),
            )
            row = conn.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
            return row is not None and row[0] == holder

        return await self.db.run(hold)

    async def ping(self) -> None:
        await self.db.run(lambda c: c.execute("SELECT 1").fetchone(), write=False)

    async def close(self) -> None:
        return None  # the Database is closed by whoever opened it (see backends.py)
