"""LandmarkBatcher (dynamic batching of landmark calls across threads) and PoseEngine
shared by several threads: batches form, rows equal direct calls, errors reach every
waiter, shutdown never hangs, and concurrent videos give the one-at-a-time keypoints."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Literal

import numpy as np
import pytest

from service.config import Settings
from service.pipeline.pose import PoseEngine
from service.pipeline.pose.batcher import Array, BatcherClosedError, LandmarkBatcher, Outputs
from service.pipeline.pose.models import LANDMARK_FULL, load_session
from tests.clips import clip_path

CLIPS = ("front_overhead_squat_good_7052", "front_highbar_backsquat_1rep")  # ≤ 62 frames each


def _tensors(n: int) -> list[Array]:
    rng = np.random.default_rng(7)
    return [rng.random((256, 256, 3), dtype=np.float32) for _ in range(n)]


@pytest.fixture
def real_batcher() -> Iterator[LandmarkBatcher]:
    session = load_session(LANDMARK_FULL, Settings())
    with LandmarkBatcher(session.run, max_batch=8, max_wait_ms=200) as batcher:
        yield batcher


def test_batches_form_and_rows_equal_direct_calls(real_batcher: LandmarkBatcher) -> None:
    session = load_session(LANDMARK_FULL, Settings())
    tensors = _tensors(3)
    start = threading.Barrier(3)

    def submit(t: Array) -> dict[str, Array]:
        start.wait()
        return real_batcher.run_one(t)

    with ThreadPoolExecutor(3) as pool:
        rows = list(pool.map(submit, tensors))
    assert max(real_batcher.batch_sizes) > 1, real_batcher.batch_sizes
    for t, row in zip(tensors, rows, strict=True):
        direct = session.run(t[None])
        assert set(row) == set(direct)
        for name, value in direct.items():
            np.testing.assert_array_equal(row[name], value[0])  # bit-identical on the CPU


def test_registered_callers_close_the_batch_without_waiting() -> None:
    # Two registered callers, one request each in flight: nothing else can come, so
    # the 10 s max wait must not be waited; one caller alone skips the queue.
    with LandmarkBatcher(_echo, max_batch=8, max_wait_ms=10_000) as batcher:
        start = threading.Barrier(2)

        def call(value: float) -> Array:
            with batcher.caller():
                start.wait()
                return batcher.run_one(np.full((2,), value, np.float32))["x"]

        t0 = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            rows = list(pool.map(call, [1.0, 2.0]))
        with batcher.caller():
            alone = batcher.run_one(np.full((2,), 3.0, np.float32))["x"]
        assert time.monotonic() - t0 < 5.0
        assert batcher.batch_sizes == {2: 1, 1: 1}
        for row, value in zip([*rows, alone], [1.0, 2.0, 3.0], strict=True):
            np.testing.assert_array_equal(row, np.full(2, value, np.float32))


def _echo(batch: Array) -> Outputs:
    return {"x": batch}


def test_an_exception_reaches_every_waiter() -> None:
    calls: list[int] = []

    def boom(batch: Array) -> Outputs:
        calls.append(len(batch))
        raise RuntimeError("model failed")

    with LandmarkBatcher(boom, max_batch=3, max_wait_ms=5_000) as batcher:
        futures = [batcher.submit(np.zeros((1,), np.float32)) for _ in range(3)]
        for future in futures:
            with pytest.raises(RuntimeError, match="model failed"):
                future.result(timeout=10)
        # The thread survives a failed batch.
        with pytest.raises(RuntimeError, match="model failed"):
            batcher.run_one(np.zeros((1,), np.float32))
    assert calls[0] == 3


def test_close_while_waiting_does_not_hang() -> None:
    batcher = LandmarkBatcher(_echo, max_batch=8, max_wait_ms=60_000)
    future = batcher.submit(np.zeros((1,), np.float32))  # waits for company for a minute
    errors: list[BaseException] = []
    waiter = threading.Thread(target=lambda: errors.append(future.exception() or Exception()))
    waiter.start()
    t0 = time.monotonic()
    batcher.close()
    waiter.join(timeout=5)
    assert not waiter.is_alive()
    assert time.monotonic() - t0 < 5
    assert isinstance(errors[0], BatcherClosedError)
    with pytest.raises(BatcherClosedError):
        future.result(timeout=0)
    with pytest.raises(BatcherClosedError):
        batcher.submit(np.zeros((1,), np.float32))


def test_a_canceled_request_is_skipped() -> None:
    seen: list[int] = []

    def record(batch: Array) -> Outputs:
        seen.append(len(batch))
        return {"x": batch}

    with LandmarkBatcher(record, max_batch=2, max_wait_ms=60_000) as batcher:
        first = batcher.submit(np.zeros((1,), np.float32))
        assert first.cancel()
        second = batcher.submit(np.ones((1,), np.float32))  # max_batch reached: runs now
        np.testing.assert_array_equal(second.result(timeout=10)["x"], np.ones(1, np.float32))
    assert seen == [1]


@cache
def _engine(batching: Literal["on", "off"]) -> PoseEngine:
    return PoseEngine.from_settings(Settings(landmark_batching=batching, batch_wait_ms=5))


def test_concurrent_videos_match_one_at_a_time() -> None:
    alone = [_engine("off").process_video(clip_path(c)) for c in CLIPS]
    paths = [clip_path(c) for c in (*CLIPS, CLIPS[0])]  # 3 threads, one clip twice
    engine = _engine("on")
    assert engine.batcher is not None
    before = Counter(engine.batcher.batch_sizes)
    with ThreadPoolExecutor(len(paths)) as pool:
        results = list(pool.map(engine.process_video, paths))
    calls = engine.batcher.batch_sizes - before
    assert any(size > 1 for size in calls), calls  # the frames of different videos did batch
    for result, expected in zip(results, (*alone, alone[0]), strict=True):
        np.testing.assert_array_equal(result.landmarks, expected.landmarks)
        np.testing.assert_array_equal(result.world, expected.world)
        np.testing.assert_array_equal(result.t_s, expected.t_s)


def test_a_stopped_video_does_not_stall_the_others() -> None:
    # One job canceled early leaves the batcher; the other finishes, unchanged.
    engine = _engine("on")
    expected = _engine("off").process_video(clip_path(CLIPS[1]))

    def stopped() -> None:
        from service.pipeline.pose import ProcessingStoppedError  # noqa: PLC0415

        with pytest.raises(ProcessingStoppedError):
            engine.process_video(clip_path(CLIPS[0]), should_stop=lambda: True)

    with ThreadPoolExecutor(2) as pool:
        stop = pool.submit(stopped)
        done = pool.submit(engine.process_video, clip_path(CLIPS[1]))
        stop.result(timeout=60)
        np.testing.assert_array_equal(done.result(timeout=120).landmarks, expected.landmarks)
