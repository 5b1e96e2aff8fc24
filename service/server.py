"""`kneecave serve`: the API and embedded workers in one process, zero external servers.

With no API keys configured it prints a dev key (loudly) at start, the same one
at every restart; production turns it off (KNEECAVE_DEV_KEY=false, as k8s/ does)
and creates keys with `kneecave keys create --tenant NAME`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import uvicorn

from service.api.app import create_app
from service.api.protocol import ProblemHttpProtocol
from service.config import Settings
from service.jobs.backends import open_backends
from service.logs import configure_logging
from service.tenants import ensure_dev_key, revoke_dev_keys

BANNER = "!" * 78
DEV_KEY_FILE = "dev-api-key"


async def _dev_key(settings: Settings) -> str | None:
    """The dev key to print, kept across restarts in the data dir (owner-only), or None:
    real keys exist, or the setting turned it off (which revokes any dev key)."""
    path = settings.data_dir / DEV_KEY_FILE
    async with open_backends(settings) as backends:
        if not settings.dev_key:
            await revoke_dev_keys(backends.keys)
            path.unlink(missing_ok=True)
            return None
        kept = path.read_text().strip() if path.is_file() else None
        key = await ensure_dev_key(backends.keys, kept)
    if key is None:  # real keys exist: the saved dev key was revoked with the first one
        path.unlink(missing_ok=True)
    elif key != kept:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        os.replace(path.with_suffix(".tmp"), path)
    return key


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {
        name: getattr(args, name)
        for name in ("host", "port", "workers")
        if getattr(args, name, None) is not None
    }
    # Validate the overrides like environment values (model_copy would not).
    return Settings(**overrides)


def serve_command(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    configure_logging(settings.log_level)
    dev_key = asyncio.run(_dev_key(settings))
    if dev_key is not None:
        # stderr, not the log: a human must see it, and logs must never hold keys.
        print(
            f"{BANNER}\n  NO API KEYS CONFIGURED: the DEV key (tenant 'dev') is\n"
            f"  Authorization: Bearer {dev_key}\n"
            f"  It is kept in {settings.data_dir / DEV_KEY_FILE} and works until a real key\n"
            "  exists (`kneecave keys create --tenant NAME`); KNEECAVE_DEV_KEY=false turns it\n"
            f"  off and revokes it.\n{BANNER}",
            file=sys.stderr,
            flush=True,
        )
    app = create_app(settings, embedded_workers=settings.workers)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,  # no product/version banner
        http=ProblemHttpProtocol,  # its own parse errors as problem+json too
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
    )
    uvicorn.Server(config).run()
    return 0
