"""Locust scenarios for the kneecave API (see loadtests/README.md).

Three kinds of client, as a fitness app would produce them:

- AppUser: uploads a short squat video (POST /v1/jobs, multipart), then polls
  the job, honouring Retry-After, until it is terminal; the time from upload to
  terminal is reported as a "JOB" entry named after the outcome.
- StatusPoller: re-reads jobs others submitted (an app screen refreshing a
  history list), and now and then lists them.
- KeypointsClient: an app with on-device pose that POSTs (T, 33, 5) landmarks
  to /v1/score/keypoints (a synthetic two-rep squat made here with numpy).

Configuration (environment):
  KNEECAVE_BASE_URL     default host (overridden by --host); loopback only unless
                        KNEECAVE_LOAD_ALLOW_REMOTE=1
  KNEECAVE_API_KEY      required: a key from `kneecave serve` or `kneecave keys create`
  KNEECAVE_LOAD_VIDEO   video to upload; default: a tiny synthetic mp4 made here
                        with cv2.VideoWriter (no person in it, so its jobs end
                        `failed: no_person` quickly; pass a real clip to load the
                        pose pipeline)
  KNEECAVE_LOAD_JOB_TIMEOUT_S   give up polling one job after this long (default 300)
  KNEECAVE_LOAD_THINK   multiplies every user's think time (default 1; 0 = back to back,
                        to find where the server saturates rather than model real users)
"""

from __future__ import annotations

import collections
import ipaddress
import json
import os
import random
import socket
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from locust import HttpUser, between, events, task
from locust.clients import ResponseContextManager
from locust.env import Environment

API_KEY = os.environ.get("KNEECAVE_API_KEY", "")
DEFAULT_HOST = os.environ.get("KNEECAVE_BASE_URL", "http://127.0.0.1:8000")
JOB_TIMEOUT_S = float(os.environ.get("KNEECAVE_LOAD_JOB_TIMEOUT_S", "300"))
THINK = float(os.environ.get("KNEECAVE_LOAD_THINK", "1"))
TERMINAL = frozenset({"succeeded", "failed", "canceled"})

# Job ids submitted during the run, shared by the pollers (bounded: a long run
# must not grow memory). Locust users are greenlets in one process, so a plain
# deque is safe.
KNOWN_JOBS: collections.deque[str] = collections.deque(maxlen=200)

# --- test data ------------------------------------------------------------------

# BlazePose indices of the points the synthetic squat moves explicitly.
NOSE, L_SH, R_SH, L_EL, R_EL, L_WR, R_WR = 0, 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANK, R_ANK = 23, 24, 25, 26, 27, 28
L_HEEL, R_HEEL, L_TOE, R_TOE = 29, 30, 31, 32
SYNTHETIC_REPS = 2


def synthetic_squat(
    reps: int = SYNTHETIC_REPS,
    fps: float = 30.0,
    width: int = 720,
    height: int = 1280,
    seed: int = 7,
) -> dict[str, Any]:
    """A front-view bodyweight squat set as (T, 33, 5) landmarks in pixels.

    Pelvis drop follows a raised cosine per rep (1 s down, 1 s up, 0.6 s standing),
    the knees track slightly outside the feet (a good squat), the thighs
    foreshorten to horizontal at the bottom as in a real front-view video, and
    every point gets ~1.5 px of noise so the scorer sees realistic jitter.
    """
    rng = np.random.default_rng(seed)
    knots_t, knots_d = [0.0, 1.0], [0.0, 0.0]
    t = 1.0
    for _ in range(reps):
        knots_t += [t + 1.0, t + 2.0, t + 2.6]
        knots_d += [1.0, 0.0, 0.0]
        t += 2.6
    knots_t.append(t + 1.0)
    knots_d.append(0.0)
    ts = np.arange(int(knots_t[-1] * fps)) / fps
    seg = np.clip(np.searchsorted(knots_t, ts, side="right") - 1, 0, len(knots_t) - 2)
    kt, kd = np.asarray(knots_t), np.asarray(knots_d)
    w = np.clip((ts - kt[seg]) / (kt[seg + 1] - kt[seg]), 0.0, 1.0)
    d = kd[seg] + (kd[seg + 1] - kd[seg]) * (0.5 - 0.5 * np.cos(np.pi * w))

    n = ts.size
    leg = 0.32 * height  # hip-to-ankle, px
    cx, ground = width / 2, 0.88 * height
    lm = np.zeros((n, 33, 5))
    lm[..., 3] = 0.98  # visibility
    lm[..., 4] = 0.99  # presence
    pelvis_y = ground - leg * (0.97 - 0.5 * d)
    # Subject's left is image right (+x) when facing the camera.
    for sg, hip, knee, ank, heel, toe in (
        (1.0, L_HIP, L_KNEE, L_ANK, L_HEEL, L_TOE),
        (-1.0, R_HIP, R_KNEE, R_ANK, R_HEEL, R_TOE),
    ):
        ax = cx + sg * 0.22 * leg
        lm[:, hip, 0], lm[:, hip, 1] = cx + sg * 0.15 * leg, pelvis_y
        lm[:, ank, 0], lm[:, ank, 1] = ax, ground
        lm[:, knee, 0] = ax + sg * 0.1 * leg * d  # knees out over the toes
        lm[:, knee, 1] = ground - 0.48 * leg * (1 - 0.12 * d)
        lm[:, heel, 0], lm[:, heel, 1] = ax - sg * 0.01 * leg, ground + 0.04 * leg
        lm[:, toe, 0], lm[:, toe, 1] = ax + sg * 0.05 * leg, ground + 0.06 * leg
    for sg, sh, el, wr in ((1.0, L_SH, L_EL, L_WR), (-1.0, R_SH, R_EL, R_WR)):
        lm[:, sh, 0], lm[:, sh, 1] = cx + sg * 0.22 * leg, pelvis_y - 0.62 * leg * (1 - 0.2 * d)
        # Arms held forward (prisoner-style squats keep them near the chest).
        lm[:, el, 0], lm[:, el, 1] = cx + sg * 0.2 * leg, lm[:, sh, 1] + 0.2 * leg
        lm[:, wr, 0], lm[:, wr, 1] = cx + sg * 0.08 * leg, lm[:, sh, 1] + 0.15 * leg
    lm[:, NOSE, 0], lm[:, NOSE, 1] = cx, lm[:, L_SH, 1] - 0.25 * leg
    for j in (*range(1, 11), *range(17, 23)):  # face and hands: near the nose / wrists
        base = NOSE if j <= 10 else (L_WR if j % 2 else R_WR)
        lm[:, j, :2] = lm[:, base, :2] + [0.01 * leg * (j % 5 - 2), -0.01 * leg * (j % 3)]
    lm[..., :2] += rng.normal(0.0, 1.5, size=(n, 33, 2))
    return {
        "landmarks": np.round(lm, 3).tolist(),
        "fps": fps,
        "width": width,
        "height": height,
        "view": "auto",
    }


@cache
def keypoints_body() -> bytes:
    # Serialised once: on a shared 2-core box the load generator's own CPU counts.
    return json.dumps(synthetic_squat()).encode()


@cache
def upload_video() -> tuple[str, bytes, str]:
    """(file name, bytes, content type) of the video every AppUser uploads."""
    given = os.environ.get("KNEECAVE_LOAD_VIDEO")
    if given:
        path = Path(given)
        ctype = "video/quicktime" if path.suffix.lower() == ".mov" else "video/mp4"
        return path.name, path.read_bytes(), ctype
    return "synthetic.mp4", _synthetic_mp4(), "video/mp4"


def _synthetic_mp4(
    seconds: float = 2.0, fps: float = 30.0, size: tuple[int, int] = (180, 320)
) -> bytes:
    """A small real mp4 (MPEG-4 Part 2 in an ISO BMFF container) made with OpenCV."""
    import cv2  # noqa: PLC0415 (only needed without KNEECAVE_LOAD_VIDEO)

    w, h = size
    with tempfile.TemporaryDirectory(prefix="kneecave-load-") as tmp:
        path = Path(tmp) / "synthetic.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError("cv2.VideoWriter cannot write mp4v; set KNEECAVE_LOAD_VIDEO")
        for i in range(int(seconds * fps)):
            frame = np.full((h, w, 3), 40, np.uint8)
            y = int(h * (0.3 + 0.2 * np.sin(2 * np.pi * i / fps)))  # a "head" bobbing like a squat
            cv2.circle(frame, (w // 2, y), 14, (210, 210, 210), -1)
            cv2.rectangle(frame, (w // 2 - 20, y + 18), (w // 2 + 20, h - 20), (160, 160, 160), -1)
            writer.write(frame)
        writer.release()
        return path.read_bytes()


# --- safety: loopback only -----------------------------------------------------------


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def _check_target(environment: Environment, **_: Any) -> None:
    """Refuse to start without a key, or against anything but this machine."""
    if not API_KEY:
        raise SystemExit("set KNEECAVE_API_KEY (printed by `kneecave serve`)")
    host = environment.host or DEFAULT_HOST
    if os.environ.get("KNEECAVE_LOAD_ALLOW_REMOTE") != "1" and not _is_loopback(host):
        raise SystemExit(f"{host} is not a loopback address; set KNEECAVE_LOAD_ALLOW_REMOTE=1")


# locust's event hooks are untyped; these typed aliases keep mypy --strict meaningful here.
_on_init: Callable[[Callable[..., None]], object] = events.init.add_listener
_fire_request: Callable[..., None] = events.request.fire
_on_init(_check_target)


# --- users --------------------------------------------------------------------------


def _retry_after(response: Any, default: float = 2.0) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", default)), 0.5), 60.0)
    except (TypeError, ValueError):
        return default


def _problem(resp: ResponseContextManager) -> str:
    """A short failure message from a problem+json body."""
    try:
        body = resp.json()
        return f"{resp.status_code} {body.get('code')}: {body.get('detail')}"
    except ValueError:
        return f"{resp.status_code} {resp.text[:120]}"


class KneecaveUser(HttpUser):
    abstract = True
    host = DEFAULT_HOST

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {API_KEY}"

    def submit_job(self) -> str | None:
        name, data, ctype = upload_video()
        with self.client.post(
            "/v1/jobs",
            files={"video": (name, data, ctype)},
            data={"view": "auto"},
            name="POST /v1/jobs",
            catch_response=True,
        ) as resp:
            if resp.status_code != 202:
                resp.failure(_problem(resp))
                if resp.status_code == 429:
                    time.sleep(_retry_after(resp))  # back off as a well-behaved app would
                return None
            job_id = str(resp.json()["id"])
            KNOWN_JOBS.append(job_id)
            return job_id

    def get_job(self, job_id: str) -> tuple[dict[str, Any] | None, float]:
        """The job JSON (None on error) and how long to wait before the next poll."""
        with self.client.get(
            f"/v1/jobs/{job_id}", name="GET /v1/jobs/{id}", catch_response=True
        ) as resp:
            wait = _retry_after(resp)
            if resp.status_code != 200:
                resp.failure(_problem(resp))
                return None, wait
            job: dict[str, Any] = resp.json()
            if job.get("status") == "succeeded" and not isinstance(job.get("result"), dict):
                resp.failure("succeeded without a result")
            return job, wait


class AppUser(KneecaveUser):
    """Films a set, uploads it, watches the progress bar, reads the result, rests."""

    weight = 2
    wait_time = between(5 * THINK, 15 * THINK)

    @task
    def upload_and_wait(self) -> None:
        started = time.perf_counter()
        job_id = self.submit_job()
        if job_id is None:
            return
        time.sleep(2.0)  # the 202 says Retry-After: 2; the first poll waits for it
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            job, wait = self.get_job(job_id)
            if job is not None and job.get("status") in TERMINAL:
                status = str(job["status"])
                if status == "failed":
                    status += f": {(job.get('error') or {}).get('code')}"
                # A pseudo-request so locust's table shows upload→terminal latency per outcome.
                _fire_request(
                    request_type="JOB",
                    name=f"video → {status}",
                    response_time=(time.perf_counter() - started) * 1000,
                    response_length=0,
                    exception=None,
                    context={},
                )
                return
            time.sleep(wait)
        _fire_request(
            request_type="JOB",
            name="video → timeout",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=TimeoutError(f"job {job_id} not terminal after {JOB_TIMEOUT_S:.0f} s"),
            context={},
        )


class StatusPoller(KneecaveUser):
    """A history screen: re-reads known jobs, sometimes lists the latest page."""

    weight = 3
    wait_time = between(1 * THINK, 3 * THINK)

    def on_start(self) -> None:
        super().on_start()
        if not KNOWN_JOBS:
            self.submit_job()  # something to poll before any AppUser has uploaded

    @task(5)
    def poll_known_job(self) -> None:
        if KNOWN_JOBS:
            job, wait = self.get_job(random.choice(KNOWN_JOBS))
            if job is None:
                time.sleep(wait)  # e.g. 429: honour Retry-After before the next read

    @task(1)
    def list_jobs(self) -> None:
        with self.client.get("/v1/jobs?limit=20", name="GET /v1/jobs", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(_problem(resp))
                time.sleep(_retry_after(resp))
            elif "items" not in resp.json():
                resp.failure("a job list without `items`")


class KeypointsClient(KneecaveUser):
    """An app with on-device pose: sends landmarks, gets the scored set back at once."""

    weight = 2
    wait_time = between(1 * THINK, 3 * THINK)

    @task
    def score_keypoints(self) -> None:
        with self.client.post(
            "/v1/score/keypoints",
            data=keypoints_body(),
            headers={"Content-Type": "application/json"},
            name="POST /v1/score/keypoints",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(_problem(resp))
                if resp.status_code == 429:
                    time.sleep(_retry_after(resp))
                return
            reps = resp.json().get("rep_count")
            # A correctness canary under load: the synthetic set has exactly this many reps.
            if reps != SYNTHETIC_REPS:
                resp.failure(f"rep_count {reps}, expected {SYNTHETIC_REPS}")
