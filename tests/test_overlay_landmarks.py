"""Landmarks for the video overlay: the compact document (service.pipeline.overlay), its
keeping in both job backends (leases, retries, deletion, retention, tenant opt-out), and
`GET /v1/jobs/{id}/landmarks` over real HTTP with a real clip on SQLite and on Redis."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from service.api.routes.landmarks import accepts_gzip
from service.jobs.backends import Backends, open_backends
from service.jobs.model import Job, JobError, JobStatus
from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import INDEX
from service.pipeline.overlay import OVERLAY_NAMES, encode_landmarks, overlay_landmarks
from service.storage.local import LocalBlobStore
from service.tenants import create_key
from service.worker.sweeper import sweep_once
from tests.service_support import (
    SHORT_CLIP,
    Env,
    Server,
    make_env,
    open_test_backends,
    upload,
    wait_for,
)

# --- the document ------------------------------------------------------------------


def _keypoints() -> Keypoints:
    """Three frames: all seen; the left knee below the visibility threshold; nobody."""
    lm = np.zeros((3, 33, 5), np.float32)
    lm[:, :, 0] = np.arange(33) * 10 + 0.4  # x: 0.4, 10.4, … (rounds down)
    lm[:, :, 1] = np.arange(33) * 5 + 100.6  # y: rounds up
    lm[:, :, 3:] = 0.99
    lm[1, INDEX["left_knee"], 3] = 0.05
    lm[2] = np.nan
    return Keypoints.build(lm, fps=30.0, width=406, height=720, t_s=[0.0, 1 / 30, 2 / 30])


def test_overlay_keeps_the_drawn_points_rounded_and_nulls_what_was_not_seen() -> None:
    doc = overlay_landmarks(_keypoints())
    assert doc["names"] == list(OVERLAY_NAMES)
    assert (doc["fps"], doc["width"], doc["height"], doc["frames"]) == (30.0, 406, 720, 3)
    assert doc["t_s"] == [0.0, 0.033, 0.067]
    first = doc["points"][0]
    assert len(first) == 2 * len(OVERLAY_NAMES)
    for i, name in enumerate(OVERLAY_NAMES):
        j = INDEX[name]
        assert first[2 * i : 2 * i + 2] == [j * 10, j * 5 + 101], name
    knee = OVERLAY_NAMES.index("left_knee")
    second = doc["points"][1]
    assert second[2 * knee : 2 * knee + 2] == [None, None]  # the scorer did not use it either
    assert second[2 * knee + 2 : 2 * knee + 4] == first[2 * knee + 2 : 2 * knee + 4]
    assert doc["points"][2] is None  # nobody in the frame


def test_encoding_is_deterministic_compact_gzipped_json() -> None:
    doc = overlay_landmarks(_keypoints())
    data = encode_landmarks(doc)
    assert data[:2] == b"\x1f\x8b"
    assert data == encode_landmarks(doc)  # no timestamp in the gzip header
    text = gzip.decompress(data).decode()
    assert json.loads(text) == doc
    assert ", " not in text
    assert ": " not in text


def test_a_long_clip_stays_small() -> None:
    # The longest accepted clip at the default analysis rate: 300 s at 30 fps.
    rng = np.random.default_rng(0)
    frames = 9000
    lm = rng.normal(500, 40, (frames, 33, 5)).astype(np.float32)
    lm[..., 3:] = 0.9
    kp = Keypoints.build(lm, fps=30.0, width=1080, height=1920, t_s=np.arange(frames) / 30)
    data = encode_landmarks(overlay_landmarks(kp))
    assert len(data) < 1_000_000


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        (None, False),
        ("", False),
        ("identity", False),
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("br, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0, identity", False),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),  # the explicit refusal wins over the wildcard
        ("gzip;q=bogus", False),
    ],
)
def test_accept_encoding(header: str | None, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


# --- keeping them in the job backends ------------------------------------------------

# Redis hands a delivery over once it was idle for the claimer's lease: one lease for all.
LEASE_S = 0.3


@pytest.fixture(params=["sqlite", "redis"])
async def backends(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backends]:
    async with open_test_backends(request.param, tmp_path, result_retention_s=0.3) as b:
        yield b


async def _queued(backends: Backends, tenant: str = "acme") -> Job:
    now = time.time()
    job_id = f"job_{uuid.uuid4().hex}"
    job, _ = await backends.jobs.submit(
        Job(id=job_id, tenant=tenant, created_at=now, updated_at=now, blob_key=job_id), None
    )
    return job


async def _succeeded(backends: Backends, data: bytes, tenant: str = "acme") -> Job:
    job = await _queued(backends, tenant)
    lease = await backends.jobs.claim("w1", 10.0, 1.0)
    assert lease is not None
    assert lease.job_id == job.id
    done = await backends.jobs.finish(lease, JobStatus.SUCCEEDED, result={}, landmarks=data)
    assert done is not None
    return done


@pytest.mark.anyio
async def test_kept_with_a_succeeded_job_and_removed_with_it(backends: Backends) -> None:
    jobs = backends.jobs
    kept = await _succeeded(backends, b"first")
    assert await jobs.get_landmarks(kept.id) == b"first"
    assert await jobs.delete(kept.id, "beta") is None  # another tenant's delete is a miss
    assert await jobs.get_landmarks(kept.id) == b"first"
    await jobs.delete(kept.id, "acme")
    assert await jobs.get_landmarks(kept.id) is None

    swept = await _succeeded(backends, b"second")
    await asyncio.sleep(0.4)  # past the 0.3 s retention
    records, _ = await sweep_once(jobs, LocalBlobStore(Path("/nonexistent-blobs")), 3600)
    assert records == 1
    assert await jobs.get_landmarks(swept.id) is None


@pytest.mark.anyio
async def test_only_the_lease_holder_keeps_them(backends: Backends) -> None:
    jobs = backends.jobs
    job = await _queued(backends)
    stale = await jobs.claim("w1", LEASE_S, 1.0)
    assert stale is not None
    await asyncio.sleep(LEASE_S + 0.1)  # w1's lease runs out; w2 takes the job over
    winner = await jobs.claim("w2", LEASE_S, 1.0)
    assert winner is not None
    assert winner.job_id == job.id
    await jobs.finish(winner, JobStatus.SUCCEEDED, result={}, landmarks=b"winner")
    # The superseded worker ends late, either way: the winner's landmarks stay.
    assert await jobs.finish(stale, JobStatus.SUCCEEDED, result={}, landmarks=b"stale") is None
    timeout = JobError(code="timeout", detail="late")
    assert await jobs.finish(stale, JobStatus.FAILED, error=timeout) is None
    assert await jobs.get_landmarks(job.id) == b"winner"


@pytest.mark.anyio
async def test_a_retry_drops_what_a_crashed_attempt_left(backends: Backends) -> None:
    jobs = backends.jobs
    for status in (JobStatus.FAILED, JobStatus.SUCCEEDED):
        job = await _queued(backends)
        crashed = await jobs.claim("w1", LEASE_S, 1.0)
        assert crashed is not None
        # The crash came between storing the landmarks and writing `succeeded`.
        await jobs._put_landmarks(job.id, b"crashed")
        await asyncio.sleep(LEASE_S + 0.1)
        retry = await jobs.claim("w2", LEASE_S, 1.0)
        assert retry is not None
        assert retry.job_id == job.id
        error = JobError(code="no_person", detail="-") if status is JobStatus.FAILED else None
        result = {} if status is JobStatus.SUCCEEDED else None
        # A success without landmarks: the tenant opted out meanwhile.
        assert await jobs.finish(retry, status, result=result, error=error) is not None
        assert await jobs.get_landmarks(job.id) is None, status


@pytest.mark.anyio
async def test_a_canceled_running_job_keeps_none(backends: Backends) -> None:
    jobs = backends.jobs
    job = await _queued(backends)
    lease = await jobs.claim("w1", 10.0, 1.0)
    assert lease is not None
    await jobs.cancel(job.id, "acme")
    assert await jobs.finish(lease, JobStatus.SUCCEEDED, result={}, landmarks=b"late") is None
    assert await jobs.get_landmarks(job.id) is None


@pytest.mark.anyio
async def test_tenant_opt_out_is_per_tenant(backends: Backends) -> None:
    keys = backends.keys
    for tenant in ("acme", "beta"):
        await create_key(keys, tenant)
    assert await keys.landmarks_enabled("acme")
    assert await keys.landmarks_enabled("nobody-yet")  # on unless turned off
    ours = await _succeeded(backends, b"acme's", "acme")
    theirs = await _succeeded(backends, b"beta's", "beta")
    await keys.set_landmarks("acme", False)
    await backends.jobs.drop_tenant_landmarks("acme")
    assert not await keys.landmarks_enabled("acme")
    assert await keys.landmarks_enabled("beta")
    assert await backends.jobs.get_landmarks(ours.id) is None
    assert await backends.jobs.get_landmarks(theirs.id) == b"beta's"
    await keys.set_landmarks("acme", True)
    assert await keys.landmarks_enabled("acme")


# --- over HTTP, with the real pipeline -------------------------------------------------


@dataclass
class Deployment:
    server: Server
    env: Env
    keys: dict[str, str]

    def client(self, tenant: str, **headers: str) -> httpx.Client:
        c = self.server.client(self.keys[tenant], timeout=60)
        c.headers.update(headers)
        return c

    def stored(self, job_id: str) -> bytes | None:
        async def read() -> bytes | None:
            async with open_backends(self.env.settings()) as b:
                return await b.jobs.get_landmarks(job_id)

        return asyncio.run(read())


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp(f"landmarks-{request.param}")
    with make_env(request.param, tmp) as env:
        keys = {t: env.create_key(t).api_key for t in ("acme", "beta", "coach")}
        server = Server(env, tmp, workers=1)
        try:
            yield Deployment(server, env, keys)
        finally:
            server.stop()


def _succeeded_clip(c: httpx.Client) -> dict[str, Any]:
    r = upload(c, SHORT_CLIP)
    assert r.status_code == 202, r.text
    job = wait_for(c, r.json()["id"], timeout=180)
    assert job["status"] == "succeeded", job.get("error")
    return job


def _problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


def _hip_y(doc: dict[str, Any], frame: int) -> float:
    row = doc["points"][frame]
    ys = [row[2 * OVERLAY_NAMES.index(n) + 1] for n in ("left_hip", "right_hip")]
    return float(np.mean([y for y in ys if y is not None]))


def test_a_real_clip_has_one_entry_per_analysed_frame_on_the_rep_clock(
    deployment: Deployment,
) -> None:
    with deployment.client("acme") as c:
        job = _succeeded_clip(c)
        path = f"/v1/jobs/{job['id']}/landmarks"
        r = c.get(path)  # httpx asks for gzip and inflates it
        assert r.status_code == 200, r.text
        assert r.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in r.headers["vary"].lower()
        assert r.headers["content-type"] == "application/json"
        doc = r.json()
        with c.stream("GET", path) as raw:
            gzipped = b"".join(raw.iter_raw())
        assert json.loads(gzip.decompress(gzipped)) == doc
    with deployment.client("acme", **{"Accept-Encoding": "identity"}) as c:
        plain = c.get(path)
        assert plain.status_code == 200
        assert "content-encoding" not in plain.headers
        assert json.loads(plain.content) == doc

    video = job["result"]["video"]
    assert doc["frames"] == video["frames"] == len(doc["t_s"]) == len(doc["points"])
    assert (doc["width"], doc["height"], doc["fps"]) == (
        video["width"],
        video["height"],
        video["fps"],
    )
    t = np.asarray(doc["t_s"])
    assert (np.diff(t) > 0).all()
    assert t[-1] == pytest.approx(video["duration_s"], abs=2 / video["fps"])
    seen = [p for p in doc["points"] if p is not None]
    assert len(seen) > 0.9 * doc["frames"]
    reps = job["result"]["reps"]
    assert reps
    for rep in reps:
        # The rep's bottom is one of the landmark frames, and the hips are lowest there.
        bottom = int(np.argmin(np.abs(t - rep["bottom_s"])))
        assert abs(t[bottom] - rep["bottom_s"]) < 1e-3
        span = [i for i in range(len(t)) if rep["start_s"] <= t[i] <= rep["end_s"]]
        lowest = max(span, key=lambda i: _hip_y(doc, i))
        assert abs(t[lowest] - rep["bottom_s"]) < 0.3, (t[lowest], rep)
        assert _hip_y(doc, bottom) > _hip_y(doc, span[0]) + 0.1 * doc["height"]

    # Tenant-scoped: another tenant's key finds no such job.
    with deployment.client("beta") as other:
        _problem(other.get(path), 404, "job_not_found")
        _problem(other.get("/v1/jobs/job_nope/landmarks"), 404, "job_not_found")
    with httpx.Client(base_url=deployment.server.url) as anonymous:
        assert anonymous.get(path).status_code == 401

    # Deleted with the job.
    with deployment.client("acme") as c:
        assert deployment.stored(job["id"]) is not None
        assert c.delete(f"/v1/jobs/{job['id']}").status_code == 204
        _problem(c.get(path), 404, "job_not_found")
    assert deployment.stored(job["id"]) is None


def test_none_before_a_job_has_succeeded(deployment: Deployment) -> None:
    with deployment.client("beta") as c:
        job_id = upload(c, SHORT_CLIP).json()["id"]
        assert c.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "canceled"
        _problem(c.get(f"/v1/jobs/{job_id}/landmarks"), 404, "landmarks_not_found")


def test_a_tenant_that_opts_out_gets_404_and_keeps_none(deployment: Deployment) -> None:
    with deployment.client("coach") as c:
        before = _succeeded_clip(c)
        assert c.get(f"/v1/jobs/{before['id']}/landmarks").status_code == 200

        off = deployment.env.kneecave("keys", "create", "--tenant", "coach", "--no-landmarks")
        assert off.returncode == 0, off.stderr
        assert "landmarks:" in off.stdout
        _problem(c.get(f"/v1/jobs/{before['id']}/landmarks"), 404, "landmarks_disabled")
        assert deployment.stored(before["id"]) is None  # removed, not just hidden
        during = _succeeded_clip(c)
        assert deployment.stored(during["id"]) is None  # never kept

        on = deployment.env.kneecave("keys", "create", "--tenant", "coach", "--landmarks")
        assert on.returncode == 0, on.stderr
        for job in (before, during):
            _problem(c.get(f"/v1/jobs/{job['id']}/landmarks"), 404, "landmarks_not_found")
    with deployment.client("acme") as other:  # the other tenants are untouched
        assert other.get("/v1/jobs/job_nope/landmarks").json()["code"] == "job_not_found"
