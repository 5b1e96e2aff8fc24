"""`kneecave serve`: the API and embedded workers in one process, zero external servers.

With no API keys configured it creates a dev key and prints it (loudly) at
start; production creates keys with `kneecave keys create --tenant NAME`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn

from service.api.app import create_app
from service.api.protocol import ProblemHttpProtocol
from service.config import Settings
from service.jobs.backends import open_backends
from service.logs import configure_logging
from service.tenants import ensure_dev_key

BANNER = "!" * 78


async def _dev_key(settings: Settings) -> str | None:
    async with open_backends(settings) as backends:
        new = await ensure_dev_key(backends.keys)
    return None if new is None else new.api_key


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
            f"{BANNER}\n  NO API KEYS CONFIGURED: created a DEV key for tenant 'dev'.\n"
            f"  Authorization: Bearer {dev_key}\n"
            "  Create real keys with `kneecave keys create --tenant NAME` (the dev key is\n"
            f"  revoked and replaced at every start until then).\n{BANNER}",
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
