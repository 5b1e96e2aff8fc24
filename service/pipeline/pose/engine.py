"""PoseEngine: the composite "solution" — video file in, Keypoints out.

Owns the detector and the landmark model. Each video gets a ``_VideoRun``:
a tracker (ROI tracking + smoothing state), a background decoder thread (so
decoding overlaps inference) and the growing arrays of the (T, 33, 5)
contract. ``process_video`` runs one video; ``process_videos`` steps several
in lockstep and sends one frame of each to the landmark model as one batch —
the batching that pays on a GPU, since tracking makes frame t's crop depend on
frame t-1's landmarks and so forbids batching frames of one video. Results are
identical to running the videos one by one.

All per-video state lives in the ``_VideoRun``, so one engine (one set of ONNX
Runtime sessions, which are thread-safe) can serve several threads at once;
``last_stats`` is whichever call finished last. With a ``LandmarkBatcher``
(``landmark_batching``), concurrent ``process_video`` calls — a worker's
running jobs — send their landmark crops through it and share batched model
calls; each row is bit-identical to an unbatched call (tested on the CPU).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from service.config import Settings, get_settings
from service.errors import KneecaveError, NoPersonError
from service.pipeline import video
from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import NUM_LANDMARKS
from service.pipeline.pose.batcher import LandmarkBatcher
from service.pipeline.pose.detector import PoseDetector
from service.pipeline.pose.landmark import LandmarkModel, RoiLandmarks, from_outputs, preprocess
from service.pipeline.pose.models import DETECTOR, LANDMARK_MODELS, load_session, models_fingerprint
from service.pipeline.pose.roi import Roi
from service.pipeline.pose.tracking import PoseTracker, TrackerStats

# Bump when a change to pre/post-processing changes the output (cache keys use it).
ENGINE_VERSION = "8"
# MediaPipe's legacy video API stamps frames 1/30 s apart whatever the real rate,
# and its One Euro filters run on that clock; so do ours (see docs/pose.md).
MEDIAPIPE_FRAME_STEP_S = 1.0 / 30.0
# How often a job waiting on the decoder asks whether it should stop.
STOP_POLL_S = 0.1


class ProcessingStoppedError(Exception):
    """``should_stop()`` returned True; the video was not finished."""


@dataclass(slots=True)
class PoseStats:
    frames: int = 0
    detector_runs: int = 0  # fresh detections (no ROI to track)
    seconds: float = 0.0
    tracking: TrackerStats = field(default_factory=TrackerStats)  # the tracker's checks
    # The decoder thread's busy time (probe included): it overlaps the pose work.
    decode_s: float = 0.0
    # The pose loop's time blocked waiting for a decoded frame (part of ``seconds``).
    wait_s: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def pose_s(self) -> float:
        """Detector, landmark model and tracking: the pose loop less its waits for frames."""
        return max(0.0, self.seconds - self.wait_s)


def _timed(frames: Iterator[video.Frame], stats: PoseStats) -> Iterator[video.Frame]:
    """``frames`` adding the time spent producing each one (in the decoder thread) to
    ``stats.decode_s``; time blocked handing a frame over is not counted."""
    start = time.perf_counter()
    for frame in frames:
        stats.decode_s += time.perf_counter() - start
        yield frame
        start = time.perf_counter()
    stats.decode_s += time.perf_counter() - start


class _VideoRun:
    """One video in flight: decoder thread, tracker state and output rows."""

    def __init__(
        self, engine: PoseEngine, path: str | Path, stats: PoseStats | None = None
    ) -> None:
        s = engine.settings
        self.stats = stats if stats is not None else PoseStats()
        probing = time.perf_counter()
        self.info = video.probe(
            path,
            max_duration_s=s.max_duration_s,
            max_pixels=s.max_pixels,
            max_frames=s.max_frames,
            max_decode_pixels=s.max_decode_pixels,
        )
        self.stats.decode_s += time.perf_counter() - probing
        self.stride = video.analysis_stride(self.info.fps, s.analysis_fps)
        self.fps = self.info.fps / self.stride  # the rate the keypoints come at
        self.tracker = PoseTracker(
            engine.detector, engine.landmark_model, smooth=engine.smooth, fps=self.fps
        )
        self.step_s = engine.smoothing_step_s
        frames = video.decode(
            self.info, max_duration_s=s.max_duration_s, stride=self.stride, max_frames=s.max_frames
        )
        self.prefetcher = video.FramePrefetcher(_timed(frames, self.stats))
        self.landmarks: list[npt.NDArray[np.float32]] = []
        self.world: list[npt.NDArray[np.float32]] = []
        self.t_s: list[float] = []
        self.started = time.perf_counter()
        self.frame: video.Frame | None = None

    def advance(self, should_stop: Callable[[], bool] | None = None) -> video.Frame | None:
        """Next decoded frame (None at the end); decoder errors surface here.

        While it waits, ``should_stop`` is asked every ``STOP_POLL_S``: a decoder hung
        in FFmpeg must not hold the job past its deadline. The decoder thread itself
        cannot be interrupted; it is a daemon, left to end (or die with the process).
        """
        waiting = time.perf_counter()
        while True:
            try:
                self.frame = self.prefetcher.next(timeout_s=STOP_POLL_S)
            except TimeoutError:
                if should_stop is not None and should_stop():
                    raise ProcessingStoppedError("stopped while waiting for a frame") from None
                continue
            self.stats.wait_s += time.perf_counter() - waiting
            return self.frame

    def image(self) -> video.BGRImage:
        assert self.frame is not None
        return self.frame.image

    def roi(self) -> Roi | None:
        return self.tracker.next_roi(self.image())

    def record(self, result: RoiLandmarks | None) -> None:
        """Store this frame's row from the landmark result (None: no ROI, no pose)."""
        frame = self.frame
        assert frame is not None
        pose = None
        if result is not None:
            clock = frame.t_s if self.step_s is None else frame.index * self.step_s
            pose = self.tracker.update(clock, frame.image, result)
        if pose is None:
            self.landmarks.append(np.full((NUM_LANDMARKS, 5), np.nan, np.float32))
            self.world.append(np.full((NUM_LANDMARKS, 3), np.nan, np.float32))
        else:
            self.landmarks.append(pose.landmarks.astype(np.float32))
            self.world.append(pose.world.astype(np.float32))
            self.stats.detector_runs += int(pose.detected_now)
        self.t_s.append(frame.t_s)

    def progress(self) -> float:
        return min(1.0, len(self.landmarks) * self.stride / max(self.info.frame_count, 1))

    def close(self) -> None:
        self.prefetcher.close()

    def result(self) -> Keypoints:
        self.stats.frames = len(self.landmarks)
        self.stats.tracking = self.tracker.stats
        self.stats.seconds = time.perf_counter() - self.started
        lm = np.stack(self.landmarks)
        detected = np.isfinite(lm[:, :, 0]).all(axis=1)
        if not detected.any():
            raise NoPersonError(f"no person found in any of the {len(lm)} frames")
        info = self.info
        return Keypoints.build(
            lm,
            fps=self.fps,
            width=info.width,
            height=info.height,
            world=np.stack(self.world),
            detected=detected,
            t_s=np.array(self.t_s),
        )


class PoseEngine:
    def __init__(
        self,
        detector: PoseDetector,
        landmark_model: LandmarkModel,
        *,
        settings: Settings,
        smooth: bool = True,
        smoothing_step_s: float | None = MEDIAPIPE_FRAME_STEP_S,
        batcher: LandmarkBatcher | None = None,
    ) -> None:
        self.settings = settings
        self.detector = detector
        self.landmark_model = landmark_model
        self.batcher = batcher
        self.smooth = smooth
        self.smoothing_step_s = smoothing_step_s
        self.last_stats = PoseStats()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> PoseEngine:
        settings = settings or get_settings()
        detector = PoseDetector(load_session(DETECTOR, settings))
        landmark = LandmarkModel(load_session(LANDMARK_MODELS[settings.landmark_model], settings))
        step = MEDIAPIPE_FRAME_STEP_S if settings.pose_smoothing_clock == "mediapipe" else None
        batching = settings.landmark_batching
        batcher = None
        if batching == "on" or (batching == "auto" and settings.device == "cuda"):
            batcher = LandmarkBatcher(
                landmark.session.run,
                max_batch=settings.batch_size,
                max_wait_ms=settings.batch_wait_ms,
            )
        return cls(
            detector,
            landmark,
            settings=settings,
            smooth=settings.pose_smoothing,
            smoothing_step_s=step,
            batcher=batcher,
        )

    def warmup(self) -> None:
        """Run each model once (ModelError if it cannot run here): after this the engine
        is ready, and the first job pays no session start-up (CUDA context, arena)."""
        self.detector.session.warmup()
        self.landmark_model.session.warmup()

    def close(self) -> None:
        """Stop the batcher thread, if any (sessions are process-wide and stay)."""
        if self.batcher is not None:
            self.batcher.close()

    def _landmarks(self, image: video.BGRImage, roi: Roi) -> RoiLandmarks:
        """One crop's landmarks: through the batcher when there is one, else a direct call."""
        if self.batcher is None:
            return self.landmark_model([(image, roi)])[0]
        # Pre/post-processing here, in the job's thread; only the model call is shared.
        return from_outputs(self.batcher.run_one(preprocess(image, roi)), image, roi)

    @property
    def version(self) -> str:
        """Engine + model identity, for results and caches."""
        return f"blazepose-full/{ENGINE_VERSION}/{models_fingerprint(self.settings)}"

    def reset(self) -> None:
        """Forget the last run's stats; tracking state is per call, so nothing leaks."""
        self.last_stats = PoseStats()

    def process_video(
        self,
        path: str | Path,
        *,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        stats: PoseStats | None = None,
    ) -> Keypoints:
        """Run pose on every frame; raise VideoError/NoPersonError/ProcessingStoppedError.
        ``stats``, when given, is filled with this call's figures (``last_stats`` is
        whichever call of a shared engine finished last)."""
        self.reset()
        run = _VideoRun(self, path, stats)
        next_report = 0.0
        # Registered for the whole video so the batcher knows how many requests can
        # come; leaving (done, failed or stopped) lets the others' batches close early.
        calling: AbstractContextManager[None] = (
            self.batcher.caller() if self.batcher is not None else nullcontext()
        )
        try:
            with calling:
                while run.advance(should_stop) is not None:
                    if should_stop is not None and should_stop():
                        raise ProcessingStoppedError(f"stopped after {len(run.landmarks)} frames")
                    roi = run.roi()
                    run.record(self._landmarks(run.image(), roi) if roi else None)
                    if progress is not None and run.progress() >= next_report:
                        progress(run.progress())
                        next_report = run.progress() + 0.01
        finally:
            run.close()
        keypoints = run.result()
        self.last_stats = run.stats
        if progress is not None and next_report <= 1.0:
            progress(1.0)
        return keypoints

    def process_videos(self, paths: Sequence[str | Path]) -> list[Keypoints | KneecaveError]:
        """Several videos at once, one frame of each per landmark batch (GPU throughput).

        Returns, per input, its Keypoints or the KneecaveError that failed it;
        one bad video never fails the others.
        """
        results: list[Keypoints | KneecaveError | None] = [None] * len(paths)
        runs: dict[int, _VideoRun] = {}
        for i, path in enumerate(paths):
            try:
                runs[i] = _VideoRun(self, path)
            except KneecaveError as exc:
                results[i] = exc
        try:
            while runs:
                batch: list[tuple[int, Roi | None]] = []
                for i, run in list(runs.items()):
                    try:
                        if run.advance() is None:
                            results[i] = run.result()
                            run.close()
                            del runs[i]
                            continue
                        batch.append((i, run.roi()))
                    except KneecaveError as exc:
                        results[i] = exc
                        run.close()
                        del runs[i]
                items = [(i, roi) for i, roi in batch if roi is not None]
                outputs = self.landmark_model([(runs[i].image(), roi) for i, roi in items])
                by_video = {i: out for (i, _), out in zip(items, outputs, strict=True)}
                for i, _ in batch:
                    runs[i].record(by_video.get(i))
        finally:
            for run in runs.values():
                run.close()
        return [r for r in results if r is not None]
