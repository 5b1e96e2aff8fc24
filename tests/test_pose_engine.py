"""PoseEngine end to end on short real clips, its callbacks, errors and the CLI."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest

from service.cli import main
from service.config import Settings
from service.errors import NoPersonError, VideoError
from service.pipeline.keypoints import Keypoints
from service.pipeline.pose import PoseEngine, ProcessingStoppedError
from tests.clips import clip_path

SHORT_CLIP = "front_highbar_backsquat_1rep"  # 62 frames, one person throughout


@cache
def _engine() -> PoseEngine:
    return PoseEngine.from_settings(Settings())


def _noise_video(path: Path, frames: int = 12) -> None:
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height = 160, 120
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            image = rng.integers(0, 40, (120, 160, 3), dtype=np.uint8)  # dark noise, nobody there
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_process_video_contract_and_progress() -> None:
    seen: list[float] = []
    kp = _engine().process_video(clip_path(SHORT_CLIP), progress=seen.append)
    assert kp.landmarks.shape == (62, 33, 5)
    assert kp.world.shape == (62, 33, 3)
    assert kp.landmarks.dtype == np.float32
    assert kp.detected.all()
    assert (kp.width, kp.height) == (608, 1080)
    # x, y inside (or near) the frame; visibility and presence are probabilities.
    assert np.nanmax(kp.landmarks[:, :, 0]) < kp.width * 1.2
    assert 0 <= np.nanmin(kp.landmarks[:, :, 3:]) <= np.nanmax(kp.landmarks[:, :, 3:]) <= 1
    # World landmarks are metres around the hips.
    assert np.nanmax(np.abs(kp.world)) < 2.0
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(seen) <= 102
    # Tracking: one detection, then the ROI follows the landmarks.
    assert _engine().last_stats.detector_runs == 1


def test_should_stop_interrupts() -> None:
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(ProcessingStoppedError):
        _engine().process_video(clip_path(SHORT_CLIP), should_stop=stop)
    assert calls["n"] == 6


def test_same_video_twice_gives_the_same_keypoints() -> None:
    # reset() between videos: no tracking state or filter memory leaks across jobs.
    a = _engine().process_video(clip_path(SHORT_CLIP))
    b = _engine().process_video(clip_path(SHORT_CLIP))
    np.testing.assert_array_equal(a.landmarks, b.landmarks)


def test_no_person(tmp_path: Path) -> None:
    path = tmp_path / "empty_room.mp4"
    _noise_video(path)
    with pytest.raises(NoPersonError) as err:
        _engine().process_video(path)
    assert err.value.code == "no_person"


def test_bad_file_is_a_video_error(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError):
        _engine().process_video(path)


def test_cli_writes_keypoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "kp.npz"
    assert main(["pose", str(clip_path(SHORT_CLIP)), "-o", str(out), "--no-progress"]) == 0
    kp = Keypoints.load(out)
    assert kp.frames == 62
    with np.load(out) as data:
        assert set(data.files) == {
            "landmarks",
            "world",
            "detected",
            "t_s",
            "fps",
            "width",
            "height",
        }
    assert "62 frames" in capsys.readouterr().err


def test_cli_reports_errors_with_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    assert main(["pose", str(bad), "-o", str(tmp_path / "kp.npz"), "--no-progress"]) == 2
    assert "video_unreadable" in capsys.readouterr().err
    assert not (tmp_path / "kp.npz").exists()


def test_batched_videos_match_one_by_one(tmp_path: Path) -> None:
    # Lockstep batching across videos (the GPU path) must not change any result,
    # and a bad video must fail alone.
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    other = "hard_rotation_meta_front_7054"  # 68 frames, a different size and decoder
    results = _engine().process_videos([clip_path(SHORT_CLIP), bad, clip_path(other)])
    assert isinstance(results[1], VideoError)
    for result, clip in ((results[0], SHORT_CLIP), (results[2], other)):
        assert isinstance(result, Keypoints)
        alone = _engine().process_video(clip_path(clip))
        np.testing.assert_array_equal(result.landmarks, alone.landmarks)
        np.testing.assert_array_equal(result.t_s, alone.t_s)
