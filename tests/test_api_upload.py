"""POST /v1/jobs over real HTTP against a real `kneecave serve` (API only, no workers):
streaming limits, sniffing, idempotency, the SSRF guard on webhook URLs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from service.api.upload import SNIFF_BYTES, sniff_video
from service.errors import UnsupportedMediaError
from tests.clips import clip_path, manifest
from tests.service_support import SHORT_CLIP, Env, Server, make_env, upload

MAX_UPLOAD = 8 * 1024 * 1024
MULTIPART_XYZ = "multipart/form-data; boundary=xyz"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Env, str]]:
    tmp = tmp_path_factory.mktemp("upload")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp, workers=0, max_upload_bytes=MAX_UPLOAD)
        yield server, env, key
        server.stop()


@pytest.fixture
def client(deployment: tuple[Server, Env, str]) -> Iterator[httpx.Client]:
    server, _, key = deployment
    with server.client(key) as c:
        yield c


def blobs(env: Env) -> list[Path]:
    return [p for p in (env.data_dir / "blobs").iterdir() if p.is_file()]


def test_multipart_upload_is_accepted_with_location_and_retry_after(client: httpx.Client) -> None:
    r = upload(client, view="front")
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    assert int(r.headers["retry-after"]) >= 1
    assert job["status"] == "queued"
    assert job["view"] == "front"
    assert job["progress"] == 0.0
    assert client.get(r.headers["location"]).json()["id"] == job["id"]


def test_raw_body_upload_with_query_options(client: httpx.Client) -> None:
    r = client.post(
        "/v1/jobs?view=side",
        content=SHORT_CLIP.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["view"] == "side"


def test_mirrored_option_is_kept_with_the_job(client: httpx.Client) -> None:
    r = upload(client, mirrored="true")
    assert r.status_code == 202, r.text
    assert r.json()["mirrored"] is True
    assert client.get(r.headers["location"]).json()["mirrored"] is True
    assert upload(client).json()["mirrored"] is False
    r = client.post(
        "/v1/jobs?mirrored=true",
        content=SHORT_CLIP.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert r.json()["mirrored"] is True
    r = upload(client, mirrored="sideways")
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"


def test_idempotent_retry_same_body_same_job_different_body_409(
    client: httpx.Client, deployment: tuple[Server, Env, str]
) -> None:
    headers = {"Idempotency-Key": "retry-1"}
    with SHORT_CLIP.open("rb") as f:
        first = client.post("/v1/jobs", files={"video": f}, headers=headers)
    n_blobs = len(blobs(deployment[1]))
    with SHORT_CLIP.open("rb") as f:
        again = client.post("/v1/jobs", files={"video": f}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(blobs(deployment[1])) == n_blobs  # the replayed upload was not kept
    other = SHORT_CLIP.read_bytes()[:-10] + b"0123456789"
    r = client.post("/v1/jobs", files={"video": ("x.mp4", other)}, headers=headers)
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "idempotency_conflict"
    # Same video, different options: also a different request.
    with SHORT_CLIP.open("rb") as f:
        r = client.post("/v1/jobs", files={"video": f}, data={"view": "side"}, headers=headers)
    assert r.status_code == 409
    with SHORT_CLIP.open("rb") as f:
        r = client.post("/v1/jobs", files={"video": f}, data={"mirrored": "true"}, headers=headers)
    assert r.status_code == 409


def test_413_declared_length_refused_before_reading(client: httpx.Client) -> None:
    r = client.post(
        "/v1/jobs",
        content=b"\x00" * (MAX_UPLOAD + 1024 * 1024),
        headers={"Content-Type": "video/mp4"},
    )
    assert r.status_code == 413
    assert r.json()["code"] == "too_large"


def test_413_streamed_1gb_refused_early_with_flat_memory(
    deployment: tuple[Server, Env, str], client: httpx.Client
) -> None:
    server, env, _ = deployment
    proc = psutil.Process(server.pid)
    rss_before = proc.memory_info().rss
    sent = 0
    peak = rss_before
    head = SHORT_CLIP.read_bytes()[: 1024 * 1024]  # a real container start passes the sniffer

    def body() -> Iterator[bytes]:  # 1 GB, generated, never in memory at once
        nonlocal sent, peak
        chunk = b"\x00" * (1024 * 1024)
        for i in range(1024):
            if i % 4 == 0:
                peak = max(peak, proc.memory_info().rss)
            sent += len(chunk)
            yield head if i == 0 else chunk

    started = time.monotonic()
    try:
        r = client.post("/v1/jobs", content=body(), headers={"Content-Type": "video/mp4"})
        status = r.status_code
        assert r.json()["code"] == "too_large"
    except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError):
        status = 413  # the server hung up on the rest of the body: also a refusal
    elapsed = time.monotonic() - started
    assert status == 413
    assert sent < 64 * 1024 * 1024, f"sent {sent >> 20} MiB before the refusal"
    assert elapsed < 10
    assert peak - rss_before < 100 * 1024 * 1024, f"server RSS grew {(peak - rss_before) >> 20} MiB"
    assert not any((env.data_dir / "blobs" / ".partial").iterdir())
    assert client.get("/healthz").status_code == 200


def test_413_multipart_framing_counts_against_the_limit(client: httpx.Client) -> None:
    """Bytes outside the video part (here an epilogue after the closing boundary) count too."""
    video = SHORT_CLIP.read_bytes()[: 1024 * 1024]

    def body() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        yield b'--xyz\r\nContent-Disposition: form-data; name="video"\r\n\r\n'
        yield video + b"\r\n--xyz--\r\n"
        for _ in range(4 * MAX_UPLOAD // (1024 * 1024)):
            yield b"\x00" * (1024 * 1024)

    try:
        r = client.post("/v1/jobs", content=body(), headers={"content-type": MULTIPART_XYZ})
        status = r.status_code
    except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError):
        status = 413  # the server hung up on the rest of the body: also a refusal
    assert status == 413


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "video/mp4"),  # an image named as a video
        (b"ID3\x04\x00" + b"\x00" * 200, "video/mp4"),  # mp3
        (b"\x00\x00\x00\x1cftypheic" + b"\x00" * 200, "video/quicktime"),  # HEIC photo
        (b"hello", "text/plain"),
        # A 43-byte GIF ("G" is also MPEG-TS's sync byte) and a forged ftyp box before a PNG.
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 30, "video/mp4"),
        (b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom" + b"\x89PNG\r\n\x1a\n" * 20, "video/mp4"),
    ],
)
def test_415_for_non_video(client: httpx.Client, content: bytes, content_type: str) -> None:
    r = client.post("/v1/jobs", content=content, headers={"Content-Type": content_type})
    assert r.status_code == 415
    assert r.json()["code"] == "unsupported_media_type"
    r = client.post("/v1/jobs", files={"video": ("a.mp4", content, "video/mp4")})
    assert r.status_code == 415


def test_sniffer_knows_the_containers() -> None:
    for clip in map(clip_path, manifest()):  # every shared clip, each container kind
        assert sniff_video(clip.read_bytes()[:SNIFF_BYTES]) in {"mp4", "mov", "matroska"}
    with pytest.raises(UnsupportedMediaError):
        sniff_video(b"RIFF\x00\x00\x00\x00WAVEfmt ")


def test_422_for_missing_video_part_and_bad_options(client: httpx.Client) -> None:
    r = client.post("/v1/jobs", files={"other": ("a.txt", b"x")})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"
    r = upload(client, view="upside-down")
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    "body",
    [
        b"NOT A BOUNDARY\r\n\r\nhello",
        b"--xyz\r\nno colon in this header\r\n\r\nx\r\n--xyz--\r\n",
    ],
)
def test_422_for_malformed_multipart(client: httpx.Client, body: bytes) -> None:
    r = client.post("/v1/jobs", content=body, headers={"content-type": MULTIPART_XYZ})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "file:///etc/passwd",
    ],
)
def test_ssrf_webhook_targets_refused_by_default(
    client: httpx.Client, deployment: tuple[Server, Env, str], url: str
) -> None:
    n_blobs = len(blobs(deployment[1]))
    r = upload(client, webhook_url=url)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "webhook_url_refused"
    assert len(blobs(deployment[1])) == n_blobs  # the refused upload left nothing behind


def test_unauthenticated_upload_is_401(deployment: tuple[Server, Env, str]) -> None:
    server = deployment[0]
    with server.client(None) as anon:
        r = upload(anon)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
