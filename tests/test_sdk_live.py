"""The Python SDK against a real `kneecave serve` (uvicorn, an embedded worker, SQLite): a real
clip through score() with progress and its overlay landmarks, landmarks through score_keypoints(),
errors with their code and request id, the RateLimit budgets it reports, a cancel, signed webhooks
verified by the SDK, paging, the async client, and the README's "Use it from an app" example run
as written."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kneecave_sdk import (
    AsyncClient,
    Client,
    Job,
    JobCanceledError,
    JobEvent,
    NotFoundError,
    RateLimit,
    ScoreResult,
    UnsupportedMediaTypeError,
    ValidationError,
    WebhookTestEvent,
    verify_webhook,
)

from service.jobs.backends import open_backends
from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import score_keypoints
from tests.clips import REPO, clip_path, reference_path
from tests.service_support import SHORT_CLIP, Server, WebhookReceiver, make_env, without_timings

LONG_CLIP = clip_path("front_goblet_counter20")  # 43 s: still running when it is canceled
OPTIONS = {
    "webhook_allow_private": "true",  # the receiver is on loopback
    "webhook_backoff_s": 0.1,
    "progress_interval_s": 0.1,
    "heartbeat_s": 0.5,  # a canceled job stops at the next heartbeat
    "poll_rate_limit_per_minute": 1_000_000,
    "rate_limit_per_minute": 500,
}


@dataclass
class Live:
    server: Server
    api_key: str
    webhook_secret: str
    opted_out_key: str  # a tenant that keeps no landmarks

    def client(self, **kwargs: Any) -> Client:
        return Client(self.api_key, base_url=self.server.url, poll_interval=0.1, **kwargs)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("sdk-live")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("acme")
        quiet = env.create_key("quiet")

        async def opt_out() -> None:
            async with open_backends(env.settings()) as backends:
                await backends.keys.set_landmarks("quiet", False)

        asyncio.run(opt_out())
        server = Server(env, tmp, workers=1, **OPTIONS)
        yield Live(server, key.api_key, key.webhook_secret, quiet.api_key)
        server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as rec:
        yield rec


@dataclass
class Scored:
    result: ScoreResult
    seen: list[Job]


@pytest.fixture(scope="module")
def scored(live: Live) -> Scored:
    """One real clip through score(), for the tests that read what it made."""
    seen: list[Job] = []
    with live.client() as kc:
        result = kc.score(SHORT_CLIP, view="front", on_progress=seen.append)
    return Scored(result, seen)


def test_score_a_real_clip_with_progress(scored: Scored) -> None:
    result, seen = scored.result, scored.seen
    assert result.rep_count == 1
    rep = result.reps[0]
    assert rep.knee_cave.severity in {"none", "mild", "moderate", "severe"}
    assert rep.knee_cave.left is not None
    assert rep.knee_cave.left.deviation_leg is not None
    assert result.video.frames > 0

    progress = [job.progress for job in seen]
    assert progress == sorted(progress), progress  # never goes back
    assert progress[0] < 1.0
    assert progress[-1] == 1.0
    assert seen[-1].status == "succeeded"
    assert len({job.id for job in seen}) == 1


def test_landmarks_of_the_scored_clip_until_it_is_deleted(live: Live, scored: Scored) -> None:
    job_id, video = scored.seen[-1].id, scored.result.video
    with live.client() as kc:
        marks = kc.get_landmarks(job_id)
        assert marks.frames == len(marks.points) == len(marks.t_s) == video.frames
        assert "left_knee" in marks.names
        assert (marks.width, marks.height) == (video.width, video.height)
        assert marks.t_s == sorted(marks.t_s)
        rep = scored.result.reps[0]
        assert marks.t_s[0] <= rep.start_s < rep.end_s <= marks.t_s[-1]  # one clock
        drawn = [frame for frame in marks.points if frame is not None]
        assert len(drawn) > video.frames // 2
        assert all(len(frame) == 2 * len(marks.names) for frame in drawn)
        kc.delete_job(job_id)
        with pytest.raises(NotFoundError) as gone:
            kc.get_landmarks(job_id)
    assert gone.value.code == "job_not_found"
    with (  # a tenant that opted out is told so before any job lookup
        Client(live.opted_out_key, base_url=live.server.url) as kc,
        pytest.raises(NotFoundError) as off,
    ):
        kc.get_landmarks(job_id)
    assert off.value.code == "landmarks_disabled"


def test_rate_limit_budgets_as_the_server_reports_them(live: Live) -> None:
    with live.client() as kc:
        assert kc.last_rate_limit is None
        kc.list_jobs(limit=1)
        first = kc.last_rate_limit
        kc.list_jobs(limit=1)
        second = kc.last_rate_limit
        with pytest.raises(NotFoundError):  # a cancel counts as a submission, found or not
            kc.cancel_job("job_0123456789abcdef0123456789abcdef")
        submit = kc.last_rate_limit
    assert isinstance(first, RateLimit)
    assert isinstance(second, RateLimit)
    assert (first.policy, first.limit) == ("poll", OPTIONS["poll_rate_limit_per_minute"])
    assert first.reset_s is not None
    assert 0 < first.reset_s <= 60
    assert 0 < first.remaining < OPTIONS["poll_rate_limit_per_minute"]
    if second.reset_s is not None and second.reset_s <= first.reset_s:  # the same window
        assert second.remaining == first.remaining - 1
    assert submit is not None
    assert (submit.policy, submit.limit) == ("submit", OPTIONS["rate_limit_per_minute"])


def test_score_keypoints_equals_the_scorer(live: Live) -> None:
    kp = Keypoints.load(reference_path("front_highbar_backsquat_1rep"))
    with live.client() as kc:
        # Numpy arrays as they are; NaN (a landmark not seen) goes out as null.
        result = kc.score_keypoints(
            kp.landmarks, fps=kp.fps, width=kp.width, height=kp.height, t_s=kp.t_s, world=kp.world
        )
    expected = score_keypoints(kp, view="auto", pose_model="client").model_dump(mode="json")
    assert without_timings(result.model_dump(mode="json")) == without_timings(expected)


def test_errors_carry_code_and_request_id(live: Live) -> None:
    with live.client() as kc:
        with pytest.raises(NotFoundError) as missing:
            kc.get_job("job_0123456789abcdef0123456789abcdef")
        with pytest.raises(ValidationError) as invalid:
            kc.list_jobs(limit=1000)
        with pytest.raises(UnsupportedMediaTypeError) as not_video:
            kc.create_job(b"%PDF-1.7 definitely not a video" * 100, filename="notes.pdf")
    for err in (missing.value, invalid.value, not_video.value):
        assert err.problem is not None
        assert err.request_id is not None
        assert err.request_id == err.problem.request_id  # header and body agree
        assert err.request_id in str(err)
    assert missing.value.code == "job_not_found"
    assert invalid.value.code == "invalid_request"
    assert not_video.value.status_code == 415


def test_cancel_a_running_job(live: Live) -> None:
    with live.client() as kc:
        job = kc.create_job(LONG_CLIP)
        canceled = kc.cancel_job(job)
        assert canceled.status == "canceled"
        with pytest.raises(JobCanceledError) as info:
            kc.wait(job, timeout=60)
        assert info.value.job.status == "canceled"
        with pytest.raises(NotFoundError) as no_landmarks:
            kc.get_landmarks(job)
        assert no_landmarks.value.code == "landmarks_not_found"
        kc.delete_job(job)
        with pytest.raises(NotFoundError):
            kc.get_job(job)


def test_webhooks_round_trip(live: Live, receiver: WebhookReceiver) -> None:
    with live.client() as kc:
        secret = kc.get_webhook_secret()
        assert secret == live.webhook_secret
        outcome = kc.send_test_webhook(receiver.url)
        assert outcome.delivered, outcome
        job = kc.wait(kc.create_job(SHORT_CLIP, webhook_url=receiver.url), timeout=120)
    deliveries = receiver.wait_for(2)
    assert len(deliveries) == 2

    test_event = verify_webhook(deliveries[0][1], deliveries[0][0], secret)
    assert isinstance(test_event, WebhookTestEvent)
    assert deliveries[0][0]["webhook-id"] == outcome.webhook_id

    event = verify_webhook(deliveries[1][1], deliveries[1][0], secret)
    assert isinstance(event, JobEvent)
    assert event.type == "job.succeeded"
    assert event.data.id == job.id
    assert event.data.result is not None
    assert event.data.result.rep_count == 1


def test_iter_jobs_follows_the_cursor_across_pages(live: Live) -> None:
    with live.client() as kc:
        for _ in range(3):
            kc.cancel_job(kc.create_job(SHORT_CLIP))
        everything = kc.list_jobs(limit=100)
        assert everything.next_cursor is None
        paged = [job.id for job in kc.iter_jobs(limit=2)]
    assert len(paged) >= 3
    assert paged == [job.id for job in everything.items]


def test_async_client_against_the_server(live: Live) -> None:
    seen: list[Job] = []

    async def on_progress(job: Job) -> None:
        seen.append(job)

    async def run() -> tuple[ScoreResult, int, list[str], list[str]]:
        async with AsyncClient(live.api_key, base_url=live.server.url, poll_interval=0.1) as kc:
            result = await kc.score(SHORT_CLIP, on_progress=on_progress)
            marks = await kc.get_landmarks(seen[-1].id)
            assert kc.last_rate_limit is not None
            assert kc.last_rate_limit.policy == "poll"
            ids = [job.id async for job in kc.iter_jobs(limit=2)]
            page = await kc.list_jobs(limit=100)
            return result, marks.frames, ids, [job.id for job in page.items]

    result, frames, paged, listed = asyncio.run(run())
    assert result.rep_count == 1
    assert frames == result.video.frames
    assert seen[-1].progress == 1.0
    assert paged == listed


def _readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Use it from an app\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "no ```python block under 'Use it from an app'"
    return match.group(1)


def test_readme_example_runs_as_written(live: Live, tmp_path: Path) -> None:
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 10
    (tmp_path / "squat.mp4").symlink_to(SHORT_CLIP)  # the clip stays where it is
    (tmp_path / "app.py").write_text(code)
    env = {"KNEECAVE_API_KEY": live.api_key, "KNEECAVE_BASE_URL": live.server.url, "PATH": ""}
    proc = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "100%" in lines
    assert re.fullmatch(r"1 (none|mild|moderate|severe) [\d.]+", lines[lines.index("100%") + 1])
