"""LandmarkBatcher: dynamic batching of landmark-model calls across threads (Triton-style).

Tracking makes frame t's crop depend on frame t-1's landmarks, so a batch can
only be formed from *different* videos running at once. Each job thread submits
its one crop per frame and blocks on a Future; one background thread owns the
model calls. It closes a batch when ``max_batch`` requests wait, or when every
registered caller (``with batcher.caller():``) has one waiting — a caller has at
most one request in flight, so nothing more can come and waiting would be pure
latency (one job alone never waits) — or when ``max_wait_ms`` has passed since
the batch's first request. Then it runs ONE model call and completes the futures.

Pre- and post-processing stay in the callers' threads (they run in parallel and
OpenCV releases the GIL); this thread only stacks tensors and runs the model.
Every future is completed — with its row, the model's exception, or
``BatcherClosedError`` — so no caller can block forever.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
Outputs = Mapping[str, Array]
RunBatch = Callable[[Array], Outputs]


class BatcherClosedError(RuntimeError):
    """The batcher was shut down before this request ran."""


@dataclass(slots=True)
class _Request:
    tensor: Array
    submitted: float = field(default_factory=time.monotonic)
    future: Future[dict[str, Array]] = field(default_factory=Future)


class LandmarkBatcher:
    """``submit(tensor)`` → Future of that row of every model output."""

    def __init__(
        self,
        run: RunBatch,
        *,
        max_batch: int,
        max_wait_ms: float,
        name: str = "landmark-batcher",
    ) -> None:
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError(f"max_batch {max_batch} must be >= 1, max_wait_ms {max_wait_ms} >= 0")
        self._run = run
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self._cond = threading.Condition()
        self._queue: deque[_Request] = deque()
        self._callers = 0
        self._closed = False
        # batch size → number of model calls of that size (benchmarks, tests); under the lock.
        self.batch_sizes: Counter[int] = Counter()
        # Daemon: an engine nobody closes must not keep the process alive.
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, tensor: Array) -> Future[dict[str, Array]]:
        request = _Request(tensor)
        with self._cond:
            if self._closed:
                raise BatcherClosedError("landmark batcher is closed")
            self._queue.append(request)
            self._cond.notify()
        return request.future

    def run_one(self, tensor: Array) -> dict[str, Array]:
        """Submit and wait: the row of each output for this one input.

        A registered caller that is alone (no other caller, nothing queued) runs the
        model on its own thread: there is nothing to batch with, and the hand-off
        costs two GIL re-acquisitions that, next to a busy decoder thread, made one
        job ~15% slower on the CPU (measured; docs/pose.md).
        """
        with self._cond:
            if self._closed:
                raise BatcherClosedError("landmark batcher is closed")
            alone = self._callers == 1 and not self._queue
        if not alone:
            return self.submit(tensor).result()
        out = self._run(tensor[None])
        with self._cond:
            self.batch_sizes[1] += 1
        return {name: value[0] for name, value in out.items()}

    @contextmanager
    def caller(self) -> Iterator[None]:
        """Register a thread that keeps at most one request in flight (see module doc)."""
        with self._cond:
            self._callers += 1
        try:
            yield
        finally:
            with self._cond:
                self._callers -= 1
                self._cond.notify()  # the others may now be a full batch

    def close(self) -> None:
        """Stop the thread; a batch already running finishes, queued requests fail."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> LandmarkBatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ready(self) -> bool:
        # Called with the lock held and a non-empty queue.
        n = len(self._queue)
        if n >= self.max_batch or (self._callers > 0 and n >= self._callers):
            return True
        return time.monotonic() >= self._queue[0].submitted + self.max_wait_s

    def _take(self) -> list[_Request] | None:
        """Wait for the next batch; None once closed."""
        with self._cond:
            while not self._closed:
                if not self._queue:
                    self._cond.wait()
                elif self._ready():
                    n = min(self.max_batch, len(self._queue))
                    return [self._queue.popleft() for _ in range(n)]
                else:
                    deadline = self._queue[0].submitted + self.max_wait_s
                    self._cond.wait(max(0.0, deadline - time.monotonic()))
            return None

    def _loop(self) -> None:
        try:
            while (batch := self._take()) is not None:
                self._run_batch(batch)
        finally:
            # Closed (or, by a bug, crashed): nobody may wait on a request forever.
            with self._cond:
                self._closed = True
                left = list(self._queue)
                self._queue.clear()
            for request in left:
                if request.future.set_running_or_notify_cancel():
                    request.future.set_exception(BatcherClosedError("landmark batcher closed"))

    def _run_batch(self, batch: list[_Request]) -> None:
        # A future its caller canceled is dropped here, not run.
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            out = self._run(np.stack([r.tensor for r in live]))
            rows = [{name: value[i] for name, value in out.items()} for i in range(len(live))]
        except BaseException as exc:  # every waiter gets it, whatever it is
            for request in live:
                request.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        with self._cond:
            self.batch_sizes[len(live)] += 1
        for request, row in zip(live, rows, strict=True):
            request.future.set_result(row)
