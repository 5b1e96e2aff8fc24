"""One job in flight: its stop flag, progress, deadline and the thread that analyses it.

Shared by the analysis thread, the heartbeat task and the drain logic. Plain
attribute writes are atomic under the GIL, which is all the thread needs.

The analysis runs in a daemon thread of its own, not in the event loop's
executor: Python cannot kill a thread, so one stuck inside a C call (a decoder,
a device) is told to stop (``should_stop``), left behind when its deadline
passes, and must never keep the process from exiting (an executor's threads are
joined at exit; a daemon's are not).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Literal, TypeVar

T = TypeVar("T")
StopReason = Literal["shutdown", "ended", "lost", "deadline"]


class DeadlineExceededError(Exception):
    """The job ran past its deadline; its thread was told to stop."""


class Run:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.progress: float | None = None
        self.stop: StopReason | None = None
        self.clock = clock
        self.started = clock()
        self.deadline = math.inf
        self.thread: threading.Thread | None = None

    def should_stop(self) -> bool:
        return self.stop is not None

    def report(self, fraction: float) -> None:
        self.progress = fraction

    @property
    def limit_s(self) -> float:
        """The time limit as it stands (seconds from the start)."""
        return self.deadline - self.started

    def extend_deadline(self, seconds: float) -> None:
        """Allow ``seconds`` more than the current deadline (none yet: from the start)."""
        base = self.started if math.isinf(self.deadline) else self.deadline
        self.deadline = base + seconds

    async def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a daemon thread, awaited until the deadline.

        Past it: ``stop`` becomes "deadline" (the thread sees ``should_stop()``),
        the thread is left to end on its own and DeadlineExceededError is raised.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(outcome: Callable[[], None]) -> None:
            if not future.done():  # else given up on (deadline, cancel): nobody wants it
                outcome()

        def target() -> None:
            try:
                value = fn()
            except BaseException as exc:  # handed to the awaiting task, which re-raises it
                _post(loop, settle, partial(future.set_exception, exc))
            else:
                _post(loop, settle, partial(future.set_result, value))

        self.thread = threading.Thread(target=target, name="job-analysis", daemon=True)
        self.thread.start()
        try:
            return await asyncio.wait_for(future, max(0.0, self.deadline - self.clock()))
        except TimeoutError:
            self.stop = "deadline"
            raise DeadlineExceededError(f"past its {self.limit_s:.1f} s limit") from None

    def thread_alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    async def wait_thread(self, timeout_s: float) -> bool:
        """Whether the analysis thread ended within ``timeout_s`` (polled: a join would
        block the event loop)."""
        end = self.clock() + timeout_s
        while self.thread_alive():
            if self.clock() >= end:
                return False
            await asyncio.sleep(0.05)
        return True


def _post(
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[Callable[[], None]], None],
    outcome: Callable[[], None],
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(settle, outcome)
