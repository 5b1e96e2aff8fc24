"""`kneecave keys create|list|revoke`: API keys in the configured backend.

Kept apart from service.tenants (the key format and the KeyStore seam, which the
job backends implement) because it opens the backends: tenants sits below jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace

from service.config import Settings
from service.errors import InvalidRequestError
from service.jobs.backends import Backends, open_backends
from service.tenants import create_key


async def _keys(args: argparse.Namespace, settings: Settings) -> int:
    async with open_backends(settings) as backends:
        store = backends.keys
        if args.keys_command == "create":
            try:
                new = await create_key(store, args.tenant)
            except InvalidRequestError as exc:
                print(f"kneecave keys create: {exc.detail}", file=sys.stderr)
                return 2
            # The one place secrets are shown: stdout of the command that made them.
            print(f"key id:          {new.key_id}")
            print(f"tenant:          {new.tenant}")
            print(f"api key:         {new.api_key}")
            print(f"webhook secret:  {new.webhook_secret}")
            await _set_landmarks(backends, new.tenant, args.landmarks)
            await _set_limits(backends, new.tenant, args)
            print("Store the API key now: only its hash is kept.", file=sys.stderr)
            return 0
        if args.keys_command == "list":
            for k in await store.list_keys():
                state = "revoked" if k.revoked_at is not None else ("dev" if k.dev else "active")
                created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(k.created_at))
                print(f"{k.id}\t{k.tenant}\t{state}\t{created}")
            return 0
        if args.keys_command == "revoke":
            if await store.revoke(args.key_id, time.time()):
                print(f"revoked {args.key_id}")
                return 0
            print(f"no such key: {args.key_id}", file=sys.stderr)
            return 1
    raise AssertionError(args.keys_command)


async def _set_landmarks(backends: Backends, tenant: str, enabled: bool | None) -> None:
    """`--landmarks` / `--no-landmarks`: whether the tenant's jobs keep per-frame landmarks
    (tenant-wide; unchanged when neither is given). Turning them off also removes those
    its finished jobs kept."""
    if enabled is None:
        return
    await backends.keys.set_landmarks(tenant, enabled)
    if not enabled:
        await backends.jobs.drop_tenant_landmarks(tenant)
    print(f"landmarks:       {'kept' if enabled else 'off (not kept, GET …/landmarks is 404)'}")


async def _set_limits(backends: Backends, tenant: str, args: argparse.Namespace) -> None:
    """`--max-active`, `--rate`, `--poll-rate`: the tenant's own limits (0: the server's
    setting again; a flag not given leaves that limit as it was)."""
    given = {name: getattr(args, name, None) for name in ("max_active", "rate", "poll_rate")}
    if all(v is None for v in given.values()):
        return
    limits = await backends.keys.limits(tenant)
    limits = replace(limits, **{k: (v or None) for k, v in given.items() if v is not None})
    await backends.keys.set_limits(tenant, limits)
    for name in given:
        value = getattr(limits, name)
        label = f"{name.replace('_', ' ')}:"
        print(f"{label:<17}{'server setting' if value is None else value}")


def keys_command(args: argparse.Namespace) -> int:
    return asyncio.run(_keys(args, Settings()))
