"""Probe and streamed decode: real clips, and bad files the tests make themselves."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from service.config import Settings
from service.errors import TooManyFramesError, VideoError, VideoTooLargeError, VideoTooLongError
from service.jobs.model import JobError
from service.pipeline import video
from tests.clips import clip_path, manifest, reference_path


def _write_video(
    path: Path, frames: int, size: tuple[int, int] = (64, 48), fps: float = 25.0
) -> None:
    container = av.open(str(path), "w")
    stream = container.add_stream("mpeg4", rate=int(fps))
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    for i in range(frames):
        image = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def _write_audio(path: Path) -> None:
    container = av.open(str(path), "w")
    stream = container.add_stream("pcm_s16le", rate=8000)
    samples = (np.sin(np.arange(8000) / 8) * 3000).astype(np.int16)[None, :]
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = 8000
    for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def _probe_and_decode(path: Path) -> int:
    return sum(1 for _ in video.decode(video.probe(path)))


def test_probe_rotated_clip_reports_upright_size() -> None:
    info = video.probe(clip_path("hard_rotation_meta_front_7054"))
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (1080, 1920)
    frame = next(iter(video.decode(info)))
    assert frame.image.shape == (1920, 1080, 3)


def test_rotation_is_the_same_through_pyav() -> None:
    info = video.probe(clip_path("hard_rotation_meta_front_7054"))
    a = next(iter(video.decode(info)))
    b = next(iter(video.decode(dataclasses.replace(info, decoder="pyav"))))
    assert b.image.shape == a.image.shape
    # Same picture (decoders differ by rounding, not by a rotation).
    assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 3.0


def test_av1_in_webm_named_mp4_falls_back_to_pyav() -> None:
    cid = "hard_av1_webm_named_mp4_two_people_side"
    info = video.probe(clip_path(cid))
    assert info.decoder == "pyav"
    assert "webm" in info.container or "matroska" in info.container
    ref = np.load(reference_path(cid))
    frames = list(video.decode(info))
    assert len(frames) == len(ref["t_s"])
    assert frames[0].image.shape == (int(ref["height"]), int(ref["width"]), 3)


@pytest.mark.parametrize("clip_id", ["front_valgus_then_correct", "side_plate_squat_3reps_vp9"])
def test_decode_matches_reference_frame_count(clip_id: str) -> None:
    info = video.probe(clip_path(clip_id))
    entry = manifest()[clip_id]
    assert info.codec == entry["codec"]
    assert info.fps == pytest.approx(entry["fps"], rel=1e-3)
    t = np.array([f.t_s for f in video.decode(info)])
    assert len(t) == len(np.load(reference_path(clip_id))["t_s"])
    assert (np.diff(t) > 0).all()


def test_synthetic_video_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "ok.mp4"
    _write_video(path, 30, fps=25.0)
    info = video.probe(path)
    assert (info.width, info.height, info.fps) == (64, 48, 25.0)
    frames = list(video.decode(info))
    assert len(frames) == 30
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(30) / 25.0, atol=1e-3)


@pytest.mark.parametrize(
    ("fps", "target", "stride"),
    [
        (30.0, 30.0, 1),
        (30.467, 30.0, 1),  # phones drift a little above the nominal rate
        (29.97, 30.0, 1),
        (24.0, 30.0, 1),
        (59.94, 30.0, 2),
        (60.0, 30.0, 2),
        (120.0, 30.0, 4),
        (240.0, 30.0, 8),
        (240.0, 0.0, 1),  # 0: every frame
    ],
)
def test_analysis_stride(fps: float, target: float, stride: int) -> None:
    assert video.analysis_stride(fps, target) == stride


@pytest.mark.parametrize("decoder", ["pyav", "opencv"])
def test_stride_keeps_every_nth_frame_with_its_time(tmp_path: Path, decoder: str) -> None:
    path = tmp_path / "fast.mp4"
    _write_video(path, 60, fps=60.0)
    info = dataclasses.replace(video.probe(path), decoder=decoder)
    every = list(video.decode(info))
    kept = list(video.decode(info, stride=3))
    assert [f.index for f in kept] == list(range(20))
    np.testing.assert_allclose([f.t_s for f in kept], np.arange(20) * 3 / 60.0, atol=1e-3)
    for f in kept:
        np.testing.assert_array_equal(f.image, every[3 * f.index].image)


def test_frame_count_and_decode_budget_bound_the_work(tmp_path: Path) -> None:
    # 600 frames at 1000 fps: 0.6 s, tiny, and still 600 frames to decode.
    path = tmp_path / "fast.mp4"
    _write_video(path, 600, fps=1000.0)
    info = video.probe(path, max_frames=600, max_decode_pixels=600 * 64 * 48)
    assert info.frame_count == 600
    with pytest.raises(TooManyFramesError) as exc:
        video.probe(path, max_frames=599)
    assert exc.value.code == "too_many_frames"
    with pytest.raises(TooManyFramesError):
        video.probe(path, max_decode_pixels=600 * 64 * 48 - 1)
    # A container that understates its frames is caught while decoding.
    with pytest.raises(TooManyFramesError):
        list(video.decode(info, max_frames=100))
    # Decimated to 30 fps: 18 frames analysed of 600.
    stride = video.analysis_stride(info.fps, 30.0)
    assert len(list(video.decode(info, stride=stride))) == math.ceil(600 / stride) == 18


def test_default_limits_take_slow_motion_and_4k60() -> None:
    s = Settings()
    for fps, (w, h) in ((240, (1920, 1080)), (60, (3840, 2160))):
        frames = int(s.max_duration_s * fps)
        assert frames <= s.max_frames
        assert frames * w * h <= s.max_decode_pixels


def test_prefetcher_yields_in_order_and_stops_early(tmp_path: Path) -> None:
    path = tmp_path / "ok.mp4"
    _write_video(path, 40)
    info = video.probe(path)
    with video.FramePrefetcher(video.decode(info), depth=2) as frames:
        indices = [f.index for f in frames]
    assert indices == list(range(40))
    with video.FramePrefetcher(video.decode(info), depth=2) as frames:
        first = next(iter(frames))
    assert first.index == 0  # leaving the block early joins the decoder thread


def test_prefetcher_reraises_decoder_errors(tmp_path: Path) -> None:
    path = tmp_path / "ok.mp4"
    _write_video(path, 20)
    info = video.probe(path)
    with (
        pytest.raises(VideoTooLongError),
        video.FramePrefetcher(video.decode(info, max_duration_s=0.2)) as frames,
    ):
        list(frames)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="no such file"):
        video.probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize("name", ["still.png", "still.mp4"])
def test_image_file_is_not_a_video(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    ok, png = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))
    assert ok
    path.write_bytes(png.tobytes())
    with pytest.raises(VideoError, match="image"):
        video.probe(path)


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError) as info:
        video.probe(path)
    assert info.value.code == "video_unreadable"


def test_audio_only(tmp_path: Path) -> None:
    path = tmp_path / "sound.wav"
    _write_audio(path)
    with pytest.raises(VideoError, match="audio-only"):
        video.probe(path)


def test_audio_with_cover_picture(tmp_path: Path) -> None:
    path = tmp_path / "song.mkv"
    with av.open(str(path), "w") as container:
        audio = container.add_stream("pcm_s16le", rate=8000)
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height = 64, 64
        cover.pix_fmt = "yuvj420p"
        picture = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        for packet in cover.encode(picture.reformat(format="yuvj420p")):
            container.mux(packet)
        for packet in cover.encode():
            container.mux(packet)
        samples = (np.sin(np.arange(8000) / 8) * 3000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in audio.encode(frame):
            container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    with pytest.raises(VideoError, match="still image"):
        video.probe(path)


def test_zero_frame_video(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    _write_video(path, 0)
    with pytest.raises(VideoError):
        _probe_and_decode(path)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9])
def test_truncated_copy_of_real_clip(tmp_path: Path, keep: float) -> None:
    src = clip_path("front_valgus_then_correct")
    data = src.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(VideoError) as exc:
        _probe_and_decode(path)
    assert str(tmp_path) not in exc.value.detail  # FFmpeg quotes the path; we must not


def test_job_errors_never_carry_server_paths() -> None:
    detail = "x: cannot open (Invalid data: '/srv/kneecave/data/blobs/job_1') at /opt/m/a.onnx"
    clean = JobError(code="video_unreadable", detail=detail).detail
    assert "/srv" not in clean
    assert "/opt" not in clean
    assert "job_1" in clean
    assert "a.onnx" in clean
    for keep in ("fps 30/1", "https://example.com/a/b", "1/2 of the frames"):
        assert JobError(code="x", detail=keep).detail == keep


def test_truncated_stream_with_index_up_front(tmp_path: Path) -> None:
    # moov atom first (faststart): the container opens, frames stop early.
    src = tmp_path / "fast.mp4"
    _write_video(src, 200)
    faststart = tmp_path / "faststart.mp4"
    with (
        av.open(str(src)) as inp,
        av.open(str(faststart), "w", options={"movflags": "faststart"}) as out,
    ):
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        for packet in inp.demux(s_in):
            if packet.dts is not None:
                packet.stream = s_out
                out.mux(packet)
    data = faststart.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    # Caught by the packet scan in probe(), before any frame is decoded.
    with pytest.raises(VideoError, match="truncated"):
        _probe_and_decode(cut)


def test_too_long_and_too_large() -> None:
    path = clip_path("front_valgus_then_correct")  # 18.3 s, 406x720
    with pytest.raises(VideoTooLongError) as long_err:
        video.probe(path, max_duration_s=10.0)
    assert long_err.value.code == "too_long"
    with pytest.raises(VideoTooLargeError) as large_err:
        video.probe(path, max_pixels=406 * 720 - 1)
    assert large_err.value.code == "too_large"
    assert video.probe(path, max_duration_s=20.0, max_pixels=406 * 720).frame_count == 550


def test_copied_clip_decodes_like_original(tmp_path: Path) -> None:
    copy = tmp_path / "copy.webm"
    shutil.copy(clip_path("side_plate_squat_3reps_vp9"), copy)
    info = video.probe(copy)
    assert info.codec == "vp9"
    assert math.isclose(info.fps, 30.0)
