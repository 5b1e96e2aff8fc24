"""Tenants and their API keys: format, hashing and the KeyStore seam (`kneecave keys`: tenants_cli).

A key reads `kc_<key id>_<secret>`. Only sha256(secret) is stored (the secret
has 256 random bits, so a slow hash adds nothing); lookups go by key id and the
hash is compared in constant time. Each tenant also holds the secret that signs
its webhooks (it has to be kept in clear to sign).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from service.errors import InvalidRequestError

KEY_PREFIX = "kc"
DEV_TENANT = "dev"


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    tenant: str
    hash: str
    created_at: float
    revoked_at: float | None = None
    dev: bool = False


@dataclass(frozen=True, slots=True)
class NewKey:
    """What `create` hands back once: the only time the secrets are visible."""

    key_id: str
    tenant: str
    api_key: str
    webhook_secret: str


@dataclass(frozen=True, slots=True)
class TenantLimits:
    """A tenant's own limits; None keeps the server's setting (`kneecave keys create
    --max-active N --rate N --poll-rate N`)."""

    max_active: int | None = None
    rate: int | None = None  # submissions per minute
    poll_rate: int | None = None  # reads per minute


@runtime_checkable
class KeyStore(Protocol):
    async def add_key(self, record: ApiKeyRecord, webhook_secret: str) -> str:
        """Store the key; create the tenant with ``webhook_secret`` unless it exists.
        Returns the tenant's webhook secret (the existing one for a known tenant)."""
        ...

    async def get_key(self, key_id: str) -> ApiKeyRecord | None: ...
    async def list_keys(self) -> list[ApiKeyRecord]: ...
    async def revoke(self, key_id: str, now: float) -> bool: ...
    async def webhook_secret(self, tenant: str) -> str | None: ...
    async def landmarks_enabled(self, tenant: str) -> bool:
        """Whether the tenant's jobs keep per-frame landmarks (the overlay); on unless the
        tenant opted out (`kneecave keys create --no-landmarks`)."""
        ...

    async def set_landmarks(self, tenant: str, enabled: bool) -> None: ...
    async def limits(self, tenant: str) -> TenantLimits: ...
    async def set_limits(self, tenant: str, limits: TenantLimits) -> None:
        """Replace the tenant's limits (None fields: back to the server's settings)."""
        ...


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key_material(tenant: str, *, dev: bool = False) -> tuple[ApiKeyRecord, str]:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKeyRecord(key_id, tenant, hash_secret(secret), time.time(), dev=dev)
    return record, f"{KEY_PREFIX}_{key_id}_{secret}"


# Tenant names reach logs, metrics labels, Redis keys and the CLI's output: plain tokens
# only (no separators a key scheme uses, no markup, no path segments).
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_tenant_name(tenant: str) -> str:
    if not TENANT_NAME.fullmatch(tenant) or ".." in tenant:
        raise InvalidRequestError(
            f"tenant names are 1-64 of A-Z a-z 0-9 _ . - (starting with a letter or digit);"
            f" got {tenant!r}"
        )
    return tenant


async def create_key(store: KeyStore, tenant: str, *, dev: bool = False) -> NewKey:
    from service.webhooks import generate_webhook_secret  # noqa: PLC0415 (heavy, only here)

    check_tenant_name(tenant)
    record, api_key = new_key_material(tenant, dev=dev)
    webhook_secret = await store.add_key(record, generate_webhook_secret())
    if not dev:
        # The dev key works until a real key exists (docs/api.md): it was printed and
        # saved to a file, so it must not outlive the switch, on running servers too.
        await revoke_dev_keys(store)
    return NewKey(record.id, tenant, api_key, webhook_secret)


async def authenticate(store: KeyStore, api_key: str) -> str | None:
    """The tenant owning ``api_key``, or None. Never logs or echoes the key."""
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    record = await store.get_key(parts[1])
    # Hash even when the id is unknown so timing does not reveal which ids exist.
    expected = record.hash if record is not None else "0" * 64
    ok = hmac.compare_digest(hash_secret(parts[2]), expected)
    if record is None or record.revoked_at is not None or not ok:
        return None
    return record.tenant


async def ensure_dev_key(store: KeyStore, kept: str | None) -> str | None:
    """The dev key to show while no real (non-dev) key exists: ``kept`` (the one an earlier
    start saved) while it still works, else a new one; None once real keys exist.

    Never revokes: API processes starting together on one store would revoke each
    other's keys (production turns the dev key off instead: `revoke_dev_keys`)."""
    keys = [k for k in await store.list_keys() if k.revoked_at is None]
    if any(not k.dev for k in keys):
        return None
    if kept is not None and await authenticate(store, kept) == DEV_TENANT:
        return kept
    return (await create_key(store, DEV_TENANT, dev=True)).api_key


async def revoke_dev_keys(store: KeyStore) -> int:
    """Revoke every dev key (the dev key is turned off); returns how many were live."""
    now = time.time()
    live = [k for k in await store.list_keys() if k.dev and k.revoked_at is None]
    for key in live:
        await store.revoke(key.id, now)
    return len(live)
