"""Worker health: its phase (starting → ready → stopping | failed), published for probes.

`kneecave worker` rewrites a small JSON status file from its event loop every few
seconds (`KNEECAVE_WORKER_HEALTH_FILE`); `kneecave worker --check` reads it, so a
worker needs no port. Two checks, for two k8s probes:

- `ready`: the file is fresh and the models are loaded and warmed up;
- `live`: the file is fresh and the worker has not failed. Loading happens in a
  thread, so a worker that is still warming up is live; a blocked event loop
  stops writing and goes stale.

The API's /readyz reads the same `WorkerHealth` for embedded workers. This
module stays light (no pipeline, no backends): probes run it every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from service.config import Settings

CheckMode = Literal["ready", "live"]


class Phase(StrEnum):
    STARTING = "starting"  # loading and warming up the models
    READY = "ready"  # claiming jobs
    STOPPING = "stopping"  # draining after SIGTERM
    FAILED = "failed"  # stopped itself (pipeline unavailable, stuck thread)


@dataclass(slots=True)
class WorkerHealth:
    phase: Phase = Phase.STARTING
    detail: str = "loading and warming up the models"

    def set(self, phase: Phase, detail: str = "") -> None:
        self.phase, self.detail = phase, detail

    @property
    def ready(self) -> bool:
        return self.phase is Phase.READY

    def describe(self) -> str:
        return f"{self.phase.value}: {self.detail}" if self.detail else self.phase.value


def write_status(path: Path, health: WorkerHealth) -> None:
    """Replace the status file atomically (a probe never reads half a file)."""
    body = {"pid": os.getpid(), "phase": health.phase.value, "detail": health.detail}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**body, "at": time.time()}))
    tmp.replace(path)


def publish_interval_s(stale_s: float) -> float:
    """Several writes per staleness window, so one slow write never fails a probe."""
    return min(5.0, stale_s / 4)


@contextlib.asynccontextmanager
async def publishing(settings: Settings, health: WorkerHealth) -> AsyncIterator[None]:
    """Keep the status file current while the block runs; write the final phase at the end."""
    path = settings.worker_health_file
    path.parent.mkdir(parents=True, exist_ok=True)
    interval = publish_interval_s(settings.worker_health_stale_s)

    async def loop() -> None:
        while True:
            with contextlib.suppress(OSError):  # a full /tmp must not kill the worker
                write_status(path, health)
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(OSError):
            write_status(path, health)


def check(path: Path, stale_s: float, mode: CheckMode, now: float) -> tuple[bool, str]:
    """(healthy, why) from the status file, for `mode`."""
    try:
        status: dict[str, Any] = json.loads(path.read_text())
        age = now - float(status["at"])
        phase = Phase(status["phase"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"no usable status in {path}: {exc}"
    detail = status.get("detail") or ""
    what = f"pid {status.get('pid')}: {phase.value}" + (f": {detail}" if detail else "")
    if age > stale_s:
        return False, f"{what}; status is {age:.0f} s old (limit {stale_s:g} s)"
    if phase is Phase.FAILED or (mode == "ready" and phase is not Phase.READY):
        return False, what
    return True, what


def check_command(mode: CheckMode) -> int:
    """`kneecave worker --check [ready|live]`: exit 0 when healthy, 1 otherwise."""
    settings = Settings()
    ok, why = check(settings.worker_health_file, settings.worker_health_stale_s, mode, time.time())
    print(f"{'ok' if ok else 'unhealthy'} ({mode}): {why}")
    return 0 if ok else 1
