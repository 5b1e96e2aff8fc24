"""The bad-input corpus: every malformed, hostile or merely wrong request we know of, each
with the answer it must get (issue 9).

`cases()` builds them (files are generated here, in a temp dir: truncated and
forged containers, audio-only, a still, 1000 fps, a clip with nobody in it …).
A case is either a *request* (raw bytes on a socket, or an httpx call) expecting a
status and a problem `code`, or a *job* (accepted with 202) expecting the job to
fail with a code. tests/test_bad_input_corpus.py runs them all against a live
`kneecave serve` on each backend.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import numpy as np

from tests.service_support import SHORT_CLIP

# Limits the corpus server runs with (small, so the over-limit cases stay cheap).
MAX_UPLOAD = 2 * 1024 * 1024
MAX_KEYPOINTS = 1024 * 1024
MAX_FRAMES = 500
IDLE_S = 1.0

Send = Callable[["Target"], httpx.Response | bytes]


@dataclass(frozen=True)
class Target:
    """What a case is sent to: the server's port and client, and a second tenant's job."""

    port: int
    client: httpx.Client  # authenticated as the corpus tenant
    anonymous: httpx.Client
    key: str
    foreign_job: str  # a job of another tenant


@dataclass(frozen=True)
class Case:
    name: str
    send: Send
    status: int
    code: str | None  # the problem's code (requests) or the failed job's error.code (jobs)
    job: bool = False  # 202, then the job must fail with ``code``


def raw_http(port: int, request: bytes, *, wait_s: float = 10.0) -> bytes:
    """Send raw bytes, read the whole answer (the server closes after errors)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(request)
        answer = b""
        while True:
            try:
                more = sock.recv(65536)
            except TimeoutError:
                break
            if not more:
                break
            answer += more
            head, sep, body = answer.partition(b"\r\n\r\n")
            length = _content_length(head)
            if sep and length is not None and len(body) >= length:
                break
    return answer


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


def parse_raw(answer: bytes) -> tuple[int, str | None]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    try:
        code = json.loads(body).get("code")
    except ValueError:
        code = None
    return status, code


# --- generated files --------------------------------------------------------------------


def _video(path: Path, frames: int, fps: int, size: tuple[int, int], noise: bool) -> Path:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            if noise:
                img = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            else:
                img = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000)
        samples = (np.sin(np.arange(8000) / 8) * 3000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def files(tmp: Path) -> dict[str, bytes]:
    clip = SHORT_CLIP.read_bytes()
    return {
        "clip": clip,
        "truncated": clip[: len(clip) // 3],
        "truncated_tail": clip[: len(clip) - 2000],
        "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 600,
        "gif43": b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 30,
        "ftyp_png": b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom" + b"\x89PNG\r\n\x1a\n" * 80,
        "heic": b"\x00\x00\x00\x1cftypheic" + b"\x00" * 600,
        "mp3": b"ID3\x04\x00" + b"\x00" * 600,
        "audio_only": _audio_only(tmp / "audio.mp4").read_bytes(),
        "one_frame": _video(tmp / "one.mp4", 1, 25, (64, 48), False).read_bytes(),
        "noise": _video(tmp / "noise.mp4", 60, 30, (160, 120), True).read_bytes(),
        "fast": _video(tmp / "fast.mp4", 600, 1000, (64, 48), False).read_bytes(),
        "too_big": clip + b"\x00" * (MAX_UPLOAD - len(clip) + 1),
    }


# --- cases ------------------------------------------------------------------------------


def _post_video(data: bytes, content_type: str = "video/mp4", **params: str) -> Send:
    def send(t: Target) -> httpx.Response:
        return t.client.post(
            "/v1/jobs", params=params, content=data, headers={"Content-Type": content_type}
        )

    return send


def _multipart(files: dict[str, tuple[str, bytes, str]], data: dict[str, str]) -> Send:
    def send(t: Target) -> httpx.Response:
        return t.client.post("/v1/jobs", files=files, data=data)

    return send


def _raw(request: bytes | Callable[[Target], bytes]) -> Send:
    def send(t: Target) -> bytes:
        return raw_http(t.port, request(t) if callable(request) else request)

    return send


def _keypoints(body: bytes, content_type: str = "application/json", anon: bool = False) -> Send:
    def send(t: Target) -> httpx.Response:
        client = t.anonymous if anon else t.client
        return client.post(
            "/v1/score/keypoints", content=body, headers={"Content-Type": content_type}
        )

    return send


def _kp(**fields: object) -> bytes:
    body: dict[str, object] = {"fps": 30, "width": 720, "height": 1280}
    body["landmarks"] = [[[300.0, 400.0, 0.0, 0.9, 0.9]] * 33] * 4
    body.update(fields)
    return json.dumps(body).encode()


def _stalled(t: Target) -> bytes:
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.key}\r\n"
        "Content-Type: video/mp4\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    return head + SHORT_CLIP.read_bytes()[:1000]


def cases(tmp: Path) -> list[Case]:
    f = files(tmp)
    mp4 = "video/mp4"
    clip = ("clip.mp4", f["clip"], mp4)
    return [
        # --- authentication
        Case("no key", lambda t: t.anonymous.get("/v1/jobs"), 401, "unauthorized"),
        Case(
            "unknown key",
            lambda t: t.anonymous.get("/v1/jobs", headers={"Authorization": "Bearer kc_nope"}),
            401,
            "unauthorized",
        ),
        Case(
            "basic auth",
            lambda t: t.anonymous.get("/v1/jobs", headers={"Authorization": "Basic YTpi"}),
            401,
            "unauthorized",
        ),
        Case(
            "anonymous 5 MB keypoints",
            _keypoints(b" " * (5 * 1024 * 1024), anon=True),
            401,
            "unauthorized",
        ),
        # --- what is not a video
        Case("text body", _post_video(b"hello", "text/plain"), 415, "unsupported_media_type"),
        Case("png as mp4", _post_video(f["png"]), 415, "unsupported_media_type"),
        Case("43-byte gif", _post_video(f["gif43"]), 415, "unsupported_media_type"),
        Case("ftyp then png", _post_video(f["ftyp_png"]), 415, "unsupported_media_type"),
        Case(
            "heic photo", _post_video(f["heic"], "video/quicktime"), 415, "unsupported_media_type"
        ),
        Case("mp3", _post_video(f["mp3"]), 415, "unsupported_media_type"),
        Case(
            "png in multipart",
            _multipart({"video": ("a.mp4", f["png"], mp4)}, {}),
            415,
            "unsupported_media_type",
        ),
        Case("empty body", _post_video(b""), 422, "invalid_request"),
        # --- malformed requests
        Case("no video part", _multipart({"other": clip}, {}), 422, "invalid_request"),
        Case(
            "two video parts",
            lambda t: t.client.post("/v1/jobs", files=[("video", clip), ("video", clip)]),
            422,
            "invalid_request",
        ),
        Case(
            "broken multipart",
            lambda t: t.client.post(
                "/v1/jobs",
                content=b"--xyz\r\nContent-Disposition: form-data\r\n\r\nabc",
                headers={"Content-Type": "multipart/form-data; boundary=xyz"},
            ),
            422,
            "invalid_request",
        ),
        Case("bad view", _multipart({"video": clip}, {"view": "top"}), 422, "invalid_request"),
        Case("bad exercise", _post_video(f["clip"], exercise="lunge"), 422, "invalid_request"),
        Case(
            "webhook to loopback",
            _multipart({"video": clip}, {"webhook_url": "http://127.0.0.1:9/hook"}),
            422,
            "webhook_url_refused",
        ),
        Case(
            "webhook to metadata service",
            _multipart({"video": clip}, {"webhook_url": "http://169.254.169.254/latest"}),
            422,
            "webhook_url_refused",
        ),
        Case(
            "webhook file scheme",
            _multipart({"video": clip}, {"webhook_url": "file:///etc/passwd"}),
            422,
            "webhook_url_refused",
        ),
        Case(
            "empty idempotency key",
            lambda t: t.client.post(
                "/v1/jobs", files={"video": clip}, headers={"Idempotency-Key": ""}
            ),
            422,
            "invalid_request",
        ),
        Case(
            "declared too large",
            _raw(
                lambda t: (
                    f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.key}\r\n"
                    f"Content-Type: video/mp4\r\nContent-Length: {MAX_UPLOAD * 4}\r\n\r\n"
                ).encode()
            ),
            413,
            "too_large",
        ),
        Case("streamed too large", _post_video(f["too_big"]), 413, "too_large"),
        Case("stalled upload", _raw(_stalled), 408, "request_timeout"),
        Case(
            "bad content-length",
            _raw(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            400,
            "bad_request",
        ),
        Case(
            "nul in header",
            _raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
            400,
            "bad_request",
        ),
        Case("garbage request line", _raw(b"\x16\x03\x01\x02\x00\r\n\r\n"), 400, "bad_request"),
        # --- jobs that are not there or not ours
        Case(
            "unknown job",
            lambda t: t.client.get("/v1/jobs/job_0123456789abcdef0123456789abcdef"),
            404,
            "job_not_found",
        ),
        Case("path traversal id", lambda t: t.client.get("/v1/jobs/..%2F..%2Fetc"), 404, None),
        Case(
            "another tenant's job",
            lambda t: t.client.get(f"/v1/jobs/{t.foreign_job}"),
            404,
            "job_not_found",
        ),
        Case(
            "cancel another tenant's job",
            lambda t: t.client.post(f"/v1/jobs/{t.foreign_job}/cancel"),
            404,
            "job_not_found",
        ),
        Case(
            "delete another tenant's job",
            lambda t: t.client.delete(f"/v1/jobs/{t.foreign_job}"),
            404,
            "job_not_found",
        ),
        Case("unknown route", lambda t: t.client.get("/v1/nothing"), 404, "not_found"),
        Case("wrong method", lambda t: t.client.put("/v1/jobs"), 405, "method_not_allowed"),
        Case(
            "bad cursor",
            lambda t: t.client.get("/v1/jobs", params={"starting_after": "bm90IGEgY3Vyc29y"}),
            422,
            "invalid_cursor",
        ),
        Case(
            "limit 0",
            lambda t: t.client.get("/v1/jobs", params={"limit": 0}),
            422,
            "invalid_request",
        ),
        # --- keypoints
        Case("keypoints not json", _keypoints(b'{"landmarks": [[[1, 2'), 422, "invalid_request"),
        Case("keypoints array body", _keypoints(b"[1, 2, 3]"), 422, "invalid_request"),
        Case(
            "keypoints 17 landmarks",
            _keypoints(_kp(landmarks=[[[1.0, 2.0, 0.0]] * 17] * 4)),
            422,
            "keypoints_invalid",
        ),
        Case("keypoints width 1e30", _keypoints(_kp(width=1e30)), 422, "keypoints_invalid"),
        Case("keypoints 1000 fps", _keypoints(_kp(fps=1000)), 422, "keypoints_invalid"),
        Case(
            "keypoints strings",
            _keypoints(_kp(landmarks=[[["a", "b", "c"]] * 33] * 4)),
            422,
            "keypoints_invalid",
        ),
        Case("keypoints no frames", _keypoints(_kp(landmarks=[])), 422, "keypoints_invalid"),
        Case("keypoints no landmarks", _keypoints(b'{"fps": 30}'), 422, "keypoints_invalid"),
        Case(
            "keypoints infinite",
            _keypoints(_kp(landmarks=[[[1e39, 2.0, 0.0]] * 33] * 4)),
            422,
            "keypoints_invalid",
        ),
        Case(
            "keypoints too large",
            _keypoints(b" " * (MAX_KEYPOINTS + 1)),
            413,
            "too_large",
        ),
        Case(
            "keypoints as form", _keypoints(b"a=1", "application/x-www-form-urlencoded"), 415, None
        ),
        # --- accepted, then the job fails with a code
        Case("truncated mp4", _post_video(f["truncated"]), 202, "video_unreadable", job=True),
        Case("truncated tail", _post_video(f["truncated_tail"]), 202, "video_unreadable", job=True),
        Case("audio only", _post_video(f["audio_only"]), 202, "video_unreadable", job=True),
        Case("one frame", _post_video(f["one_frame"]), 202, "video_unreadable", job=True),
        Case("nobody in it", _post_video(f["noise"]), 202, "no_person", job=True),
        Case("1000 fps, 600 frames", _post_video(f["fast"]), 202, "too_many_frames", job=True),
    ]
