"""Rate limits a client can see coming: IETF RateLimit header fields on every counted answer,
a polling budget apart from submissions, and a tenant's own limits set by `kneecave keys`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from service.ratelimit import WINDOW_S
from tests.service_support import Env, Server, make_env, upload

SUBMIT_RATE, POLL_RATE, AUTH_FAILURES, MAX_ACTIVE = 4, 6, 3, 1
POLICY = re.compile(r'^"(\w+)";q=(\d+);w=(\d+)$')
STATE = re.compile(r'^"(\w+)";r=(\d+);t=(\d+)$')


@dataclass
class Deployment:
    server: Server
    env: Env
    keys: dict[str, str]

    def client(self, tenant: str | None) -> httpx.Client:
        return self.server.client(None if tenant is None else self.keys[tenant])


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp(f"ratelimit-{request.param}")
    with make_env(request.param, tmp) as env:
        keys = {t: env.create_key(t).api_key for t in ("headers", "budgets", "small")}
        made = env.kneecave(
            "keys", "create", "--tenant", "big", "--max-active", "3", "--rate", "5",
            "--poll-rate", "7",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert "max active:      3" in made.stdout
        keys["big"] = re.findall(r"api key:\s+(\S+)", made.stdout)[0]
        server = Server(
            env,
            tmp,
            workers=0,
            rate_limit_per_minute=SUBMIT_RATE,
            poll_rate_limit_per_minute=POLL_RATE,
            auth_failures_per_minute=AUTH_FAILURES,
            max_active_jobs_per_tenant=MAX_ACTIVE,
        )
        yield Deployment(server, env, keys)
        server.stop()


def fresh_window(needed_s: float = 20.0) -> None:
    """Counters live in fixed windows of the wall clock: start where the test fits in one."""
    left = WINDOW_S - time.time() % WINDOW_S
    if left < needed_s:
        time.sleep(left + 0.2)


def quota(r: httpx.Response) -> tuple[str, int, int, int]:
    """(policy, quota, remaining, seconds to reset), checked against the draft's syntax."""
    policy = POLICY.match(r.headers["ratelimit-policy"])
    state = STATE.match(r.headers["ratelimit"])
    assert policy, r.headers["ratelimit-policy"]
    assert state, r.headers["ratelimit"]
    assert policy[1] == state[1]
    assert int(policy[3]) == WINDOW_S
    assert 1 <= int(state[3]) <= WINDOW_S
    return policy[1], int(policy[2]), int(state[2]), int(state[3])


def test_every_counted_answer_tells_its_budget(deployment: Deployment) -> None:
    fresh_window()
    with deployment.client("headers") as c:
        listed = c.get("/v1/jobs")
        assert listed.status_code == 200
        assert quota(listed)[:3] == ("poll", POLL_RATE, POLL_RATE - 1)
        missing = c.get("/v1/jobs/job_0123456789abcdef0123456789abcdef")
        assert missing.status_code == 404
        assert quota(missing)[:3] == ("poll", POLL_RATE, POLL_RATE - 2)
        accepted = upload(c)
        assert accepted.status_code == 202
        assert quota(accepted)[:3] == ("submit", SUBMIT_RATE, SUBMIT_RATE - 1)
        assert "ratelimit" not in c.get("/healthz").headers  # nothing counted there


def test_polling_has_its_own_budget(deployment: Deployment) -> None:
    fresh_window()
    with deployment.client("budgets") as c:
        reads = [c.get("/v1/jobs") for _ in range(POLL_RATE + 1)]
        assert [r.status_code for r in reads] == [200] * POLL_RATE + [429]
        refused = reads[-1]
        assert refused.json()["code"] == "rate_limited"
        policy, _, remaining, reset_s = quota(refused)
        assert (policy, remaining) == ("poll", 0)
        assert abs(int(refused.headers["retry-after"]) - reset_s) <= 1
        # Polling used up its budget; submissions still have theirs.
        job = upload(c)
        assert job.status_code == 202
        job_id = job.json()["id"]
        cancels = [c.post(f"/v1/jobs/{job_id}/cancel") for _ in range(SUBMIT_RATE)]
        assert [r.status_code for r in cancels] == [200] * (SUBMIT_RATE - 1) + [429]
        assert quota(cancels[-1])[:3] == ("submit", SUBMIT_RATE, 0)


def test_a_tenant_has_its_own_limits(deployment: Deployment) -> None:
    fresh_window()
    with deployment.client("big") as big, deployment.client("small") as small:
        assert quota(big.get("/v1/jobs"))[:2] == ("poll", 7)
        accepted = [upload(big) for _ in range(3)]
        assert [r.status_code for r in accepted] == [202] * 3
        assert quota(accepted[0])[:2] == ("submit", 5)
        over = upload(big)
        assert over.status_code == 429
        assert over.json()["code"] == "too_many_active_jobs"
        assert "at most 3 jobs" in over.json()["detail"]
        # The server's own limits hold for every other tenant.
        assert upload(small).status_code == 202
        assert upload(small).json()["code"] == "too_many_active_jobs"
    # Back to the server's setting, at once (limits are read per request).
    reset = deployment.env.kneecave("keys", "create", "--tenant", "big", "--max-active", "0")
    assert reset.returncode == 0, reset.stderr
    assert "max active:      server setting" in reset.stdout
    with deployment.client("big") as big:
        assert big.get("/v1/jobs").status_code == 200
        assert "at most 1 jobs" in upload(big).json()["detail"]


def test_failed_authentications_tell_their_budget(deployment: Deployment) -> None:
    fresh_window()
    with deployment.server.client("kc_000000000000_wrong") as c:
        answers = [c.get("/v1/jobs") for _ in range(AUTH_FAILURES + 1)]
    assert [r.status_code for r in answers] == [401] * AUTH_FAILURES + [429]
    assert [quota(r)[2] for r in answers] == [2, 1, 0, 0]
    assert {quota(r)[:2] for r in answers} == {("auth", AUTH_FAILURES)}
    assert answers[-1].json()["code"] == "too_many_auth_failures"
