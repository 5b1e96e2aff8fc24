"""Video probing and streamed decoding.

``probe(path)`` reads the container's metadata (PyAV, which sees the display
matrix and every stream) and checks it against the limits in Settings before a
single frame is decoded. ``decode(info)`` then yields upright BGR frames one at
a time, never holding the whole video: OpenCV's FFmpeg first (the decoder the
MediaPipe reference used), PyAV where OpenCV cannot decode the codec (AV1 on
many OpenCV builds). ``FramePrefetcher`` runs the decode in a background thread
so that decoding overlaps inference (both release the GIL).

Every failure a client can cause is a ``service.errors.VideoError`` subclass.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np
import numpy.typing as npt

from service.errors import TooManyFramesError, VideoError, VideoTooLargeError, VideoTooLongError

Decoder = Literal["opencv", "pyav"]
BGRImage = npt.NDArray[np.uint8]

# Demuxers/codecs that hold still images: a PNG renamed .mp4 must not pass as a 1-frame video.
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "gif", "tiff_pipe")
_IMAGE_CODECS = ("png", "bmp", "tiff", "webp", "gif", "jpegls")
# probe() catches a cut-off file by its damaged last packet. As a second line, a stream
# that decodes under half its packets is corrupt; the margin is wide because edit
# lists and dropped leading B-frames legitimately lose a few (one clip here: 85 of 90).
_TRUNCATED_SHARE = 0.5
_DEFAULT_FPS = 30.0


@dataclass(frozen=True, slots=True)
class VideoInfo:
    path: Path
    container: str
    codec: str
    fps: float
    frame_count: int  # declared or estimated from the duration; 0 when unknown
    width: int  # upright (after applying rotation)
    height: int
    rotation: int  # clockwise degrees applied to stored frames to show them upright
    duration_s: float
    decoder: Decoder


@dataclass(frozen=True, slots=True)
class Frame:
    index: int
    t_s: float
    image: BGRImage  # upright, H x W x 3, BGR


def probe(
    path: str | Path,
    *,
    max_duration_s: float = math.inf,
    max_pixels: int | None = None,
    max_frames: int | None = None,
    max_decode_pixels: float | None = None,
) -> VideoInfo:
    """Read metadata, validate limits and pick the decoder, raising VideoError.

    Duration and frame size alone do not bound the work: a 64x64 file at 1000 fps
    holds 300,000 frames in 5 minutes. ``max_frames`` caps the frames decoded and
    ``max_decode_pixels`` the frames x pixels (decoding costs per pixel); both are
    checked on the packet count here and again while decoding.
    """
    p = Path(path)
    if not p.is_file():
        raise VideoError(f"{p.name}: no such file")
    try:
        container = av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(f"{p.name}: not a readable video ({_reason(exc)})") from exc
    with container:
        fmt = container.format.name
        # Cover art in a music file is a one-picture "video" stream: not a video.
        motion = [v for v in container.streams.video if not _is_still(v)]
        if not motion:
            kind = "audio-only file" if container.streams.audio else "file with no video stream"
            raise VideoError(f"{p.name}: {kind}, no video to analyse")
        stream = motion[0]
        codec = stream.codec_context.name
        # Full-range ("JPEG") YUV, as phones record it: this OpenCV build's
        # conversion of it is ~50x slower than PyAV's (seconds for the first
        # frame, >100 ms per 1080p frame), so such streams go to PyAV.
        pix_fmt = str(stream.codec_context.format.name if stream.codec_context.format else "")
        full_range = pix_fmt.startswith("yuvj") or int(stream.codec_context.color_range or 0) == 2
        if any(f in fmt.split(",") for f in _IMAGE_FORMATS) or codec in _IMAGE_CODECS:
            raise VideoError(f"{p.name}: a still image ({codec}), not a video")
        stored_w, stored_h = int(stream.codec_context.width), int(stream.codec_context.height)
        fps = _stream_fps(stream)
        duration_s = _duration_s(container, stream)
        rotation = _rotation(container, stream)
        packets, corrupt = _scan_packets(container, stream)
        frame_count = int(stream.frames) or packets
    if packets == 0:
        raise VideoError(f"{p.name}: the video stream holds no frames")
    if packets == 1:  # cover art, a renamed JPEG, a one-frame clip: nothing moves
        raise VideoError(f"{p.name}: a single still image ({codec}), not a video")
    if corrupt:
        raise VideoError(f"{p.name}: truncated or corrupt ({corrupt} damaged packet(s))")
    if stored_w <= 0 or stored_h <= 0:
        raise VideoError(f"{p.name}: video stream has no frame size")
    if max_pixels is not None and stored_w * stored_h > max_pixels:
        raise VideoTooLargeError(
            f"{p.name}: {stored_w}x{stored_h} frames exceed the limit of {max_pixels} pixels"
        )
    if duration_s > max_duration_s:
        raise VideoTooLongError(
            f"{p.name}: {duration_s:.1f} s exceeds the limit of {max_duration_s:g} s"
        )
    if max_frames is not None and frame_count > max_frames:
        raise TooManyFramesError(
            f"{p.name}: {frame_count} frames ({fps:.0f} fps) exceed the limit of {max_frames}"
        )
    if max_decode_pixels is not None and frame_count * stored_w * stored_h > max_decode_pixels:
        raise TooManyFramesError(
            f"{p.name}: {frame_count} frames of {stored_w}x{stored_h} exceed the decoding"
            f" budget ({max_decode_pixels:.3g} pixels); send a shorter clip or a lower"
            " frame rate or resolution"
        )
    width, height = (stored_h, stored_w) if rotation in (90, 270) else (stored_w, stored_h)
    decoder: Decoder = "pyav" if full_range or not _opencv_can_decode(p) else "opencv"
    return VideoInfo(p, fmt, codec, fps, frame_count, width, height, rotation, duration_s, decoder)


def analysis_stride(fps: float, target_fps: float) -> int:
    """Keep every n-th frame so that at most ``target_fps`` are analysed (0: every frame).

    A 60 fps phone clip is analysed at 30, 240 fps slow motion at 30, a 30.4 fps one whole.
    """
    if target_fps <= 0 or not math.isfinite(fps):
        return 1
    return max(1, math.ceil(fps / target_fps - 0.05))


def decode(
    info: VideoInfo,
    *,
    max_duration_s: float = math.inf,
    stride: int = 1,
    max_frames: int | None = None,
) -> Iterator[Frame]:
    """Yield upright frames with timestamps; raise VideoError on a zero-frame/truncated stream.

    With ``stride`` n only every n-th frame is converted and yielded (the others are
    decoded, which the codec needs, but never turned into pictures); ``Frame.index``
    counts the yielded frames.
    """
    decoder = _decode_opencv if info.decoder == "opencv" else _decode_pyav
    raw = decoder(info, stride)
    clock = _Clock(info.fps / stride)
    count = 0
    for image, pts in raw:
        t = clock.next(pts)
        if t > max_duration_s:
            raise VideoTooLongError(
                f"{info.path.name}: longer than the limit of {max_duration_s:g} s"
            )
        if max_frames is not None and count * stride >= max_frames:
            # The container understated its frames (probe checked the packet count).
            raise TooManyFramesError(f"{info.path.name}: more than {max_frames} frames")
        if image.shape[1] != info.width or image.shape[0] != info.height:
            raise VideoError(
                f"{info.path.name}: frame {count} is {image.shape[1]}x{image.shape[0]}, "
                f"expected {info.width}x{info.height}"
            )
        yield Frame(count, t, image)
        count += 1
    if count == 0:
        raise VideoError(f"{info.path.name}: no decodable frames")
    if info.frame_count > 10 and count * stride < _TRUNCATED_SHARE * info.frame_count:
        raise VideoError(
            f"{info.path.name}: truncated or corrupt; decoded {count} of {info.frame_count} frames"
        )


class FramePrefetcher:
    """Iterate frames decoded ahead in a background thread (bounded queue, so memory stays flat).

    Errors raised by the decoder are re-raised in the consuming thread; ``close()``
    (or leaving the ``with`` block) stops the decoder early.
    """

    _DONE = object()

    def __init__(self, frames: Iterator[Frame], depth: int = 4) -> None:
        self._frames = frames
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._ended = False  # the end (or the decoder's error) was handed out
        self._thread = threading.Thread(target=self._run, name="frame-decoder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        item: object = self._DONE
        try:
            for frame in self._frames:
                if not self._put(frame):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            item = exc
        self._put(item)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.next()) is not None:
            yield frame

    def next(self, timeout_s: float | None = None) -> Frame | None:
        """The next frame (None at the end), re-raising the decoder's error.

        With ``timeout_s``, raises TimeoutError when no frame came in time, so the
        consumer can decide to stop: a decoder hung inside FFmpeg never answers.
        """
        if self._ended:
            return None
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError(f"no frame decoded within {timeout_s} s") from None
        if item is self._DONE:
            self._ended = True
            return None
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        assert isinstance(item, Frame)
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> FramePrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Clock:
    """Container timestamps; previous + 1/fps where one is missing or not increasing."""

    def __init__(self, fps: float) -> None:
        self._step = 1.0 / fps
        self._last: float | None = None

    def next(self, pts: float | None) -> float:
        if pts is None or not math.isfinite(pts) or (self._last is not None and pts <= self._last):
            t = 0.0 if self._last is None else self._last + self._step
        else:
            t = pts
        self._last = t
        return t


def _decode_opencv(info: VideoInfo, stride: int) -> Iterator[tuple[BGRImage, float | None]]:
    cap = cv2.VideoCapture(str(info.path), cv2.CAP_FFMPEG)
    try:
        # OpenCV applies the display matrix itself (the default), like the reference decode.
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        index = 0
        while True:
            if not cap.grab():
                return
            index += 1
            if (index - 1) % stride:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                return
            pos_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            yield np.asarray(image, np.uint8), (pos_ms / 1000.0 if pos_ms >= 0 else None)
    finally:
        cap.release()


def _decode_pyav(info: VideoInfo, stride: int) -> Iterator[tuple[BGRImage, float | None]]:
    try:
        container = av.open(str(info.path))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{info.path.name}: cannot open ({_reason(exc)})") from exc
    with container:
        stream = next(v for v in container.streams.video if not _is_still(v))
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index % stride:
                    continue
                image = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
                yield _rotate(image, info.rotation), frame.time
        except av.error.FFmpegError as exc:
            # A corrupt packet mid-stream ends the video; decode() decides if that is truncation.
            if not isinstance(exc, av.error.EOFError):
                return


def _reason(exc: Exception) -> str:
    """FFmpeg's message without the file name it quotes (the server's path)."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__


def _rotate(image: BGRImage, clockwise: int) -> BGRImage:
    if clockwise == 90:
        return np.asarray(cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE), np.uint8)
    if clockwise == 180:
        return np.asarray(cv2.rotate(image, cv2.ROTATE_180), np.uint8)
    if clockwise == 270:
        return np.asarray(cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE), np.uint8)
    return image


def _opencv_can_decode(path: Path) -> bool:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            return False
        ok, image = cap.read()
        return bool(ok) and image is not None
    finally:
        cap.release()


def _is_still(stream: av.video.stream.VideoStream) -> bool:
    flags = av.stream.Disposition.attached_pic | av.stream.Disposition.still_image
    return bool(int(stream.disposition) & int(flags))


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            fps = float(rate)
            if 1.0 <= fps <= 1000.0:
                return fps
    return _DEFAULT_FPS


def _duration_s(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return 0.0


def _scan_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> tuple[int, int]:
    """Count the video packets and the damaged ones without decoding (tens of ms per minute).

    A file cut short (an interrupted upload) ends in a packet the demuxer flags
    as corrupt; catching it here fails the job before any inference is spent.
    """
    container.seek(0)
    packets = corrupt = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            packets += 1
            corrupt += int(packet.is_corrupt)
    except av.error.FFmpegError:
        corrupt += 1
    return packets, corrupt


def _rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """Clockwise degrees to show stored frames upright, from the first frame's display matrix."""
    try:
        frame = next(container.decode(stream))
    except (StopIteration, av.error.FFmpegError):
        return 0
    # PyAV reports the display matrix as counter-clockwise degrees.
    ccw = round(float(getattr(frame, "rotation", 0) or 0))
    return (-ccw) % 360 if ccw % 90 == 0 else 0
