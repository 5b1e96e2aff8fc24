"""POST /v1/score/keypoints over real HTTP: reference landmarks in, the scorer's result out."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import score_keypoints
from tests.clips import reference_path
from tests.harness.body3d import Squat, Subject, parametric
from tests.harness.camera import Camera
from tests.harness.landmarks import Noise, keypoints
from tests.service_support import Server, make_env, without_timings

CLIP = "front_highbar_backsquat_1rep"


@pytest.fixture(scope="module")
def server_and_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("keypoints")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp, workers=0)
        yield server, key
        server.stop()


def _nested(array: np.ndarray) -> list[list[list[float | None]]]:
    return [
        [[None if math.isnan(v) else float(v) for v in lm] for lm in frame]
        for frame in array.tolist()
    ]


def _body(kp: Keypoints, **extra: Any) -> dict[str, Any]:
    return {
        "landmarks": _nested(kp.landmarks),
        "fps": kp.fps,
        "width": kp.width,
        "height": kp.height,
        **extra,
    }


def test_mirrored_landmarks_are_scored_on_the_persons_own_sides(
    server_and_key: tuple[Server, str],
) -> None:
    """A left knee caving, filmed mirror-image: the model's "right" is the person's left."""
    squat = Squat(reps=3, knee_dev=(0.17, 0.0), toe_out_deg=(15.0, 15.0))
    seen = keypoints(parametric(Subject(), squat, 30.0), Camera(mirrored=True), Noise.none(), 1)
    server, key = server_and_key
    flagged = {}
    with server.client(key) as c:
        for mirrored in (False, True):
            r = c.post("/v1/score/keypoints", json=_body(seen, mirrored=mirrored))
            assert r.status_code == 200, r.text
            knees = r.json()["summary"]["knee_cave"]
            flagged[mirrored] = (knees["left"]["reps_flagged"], knees["right"]["reps_flagged"])
    assert flagged[False] == (0, 3)  # as the picture shows it
    assert flagged[True] == (3, 0)  # as the person is


def test_scores_reference_landmarks_like_the_library(server_and_key: tuple[Server, str]) -> None:
    server, key = server_and_key
    kp = Keypoints.load(reference_path(CLIP))
    expected = score_keypoints(kp, view="auto", pose_model="client").model_dump(mode="json")
    with server.client(key) as c:
        r = c.post(
            "/v1/score/keypoints",
            json=_body(kp, t_s=kp.t_s.tolist(), world=_nested(kp.world)),
        )
    assert r.status_code == 200, r.text
    assert without_timings(r.json()) == without_timings(expected)
    assert r.json()["rep_count"] == 1


def test_three_values_per_landmark_are_accepted(server_and_key: tuple[Server, str]) -> None:
    server, key = server_and_key
    kp = Keypoints.load(reference_path(CLIP))
    body = _body(kp)
    body["landmarks"] = np.nan_to_num(kp.landmarks[:, :, :3]).tolist()
    with server.client(key) as c:
        r = c.post("/v1/score/keypoints", json=body)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"landmarks": [[[1.0, 2.0, 0.0, 1.0, 1.0]] * 17] * 4, "fps": 30, "width": 10, "height": 10},
        {
            "landmarks": [[[1.0, 2.0, 0.0, 1.0, 1.0]] * 33] * 4,
            "fps": 1000,
            "width": 10,
            "height": 10,
        },
        # Ragged arrays: numpy refuses them with a ValueError (once a 500).
        {
            "landmarks": [[[1.0, 2.0, 0.0, 1.0, 1.0]] * 33, [[1.0, 2.0]] * 33],
            "fps": 30,
            "width": 10,
            "height": 10,
        },
        {
            "landmarks": [[[1.0, 2.0, 0.0, 1.0, 1.0]] * 33] * 2,
            "world": [[[0.0, 0.0, 0.0]] * 33, [[0.0, 0.0]] * 33],
            "fps": 30,
            "width": 10,
            "height": 10,
        },
    ],
)
def test_bad_keypoints_are_422(server_and_key: tuple[Server, str], body: dict[str, Any]) -> None:
    server, key = server_and_key
    with server.client(key) as c:
        r = c.post("/v1/score/keypoints", json=body)
    assert r.status_code == 422
    assert r.json()["code"] == "keypoints_invalid"
    assert r.headers["content-type"] == "application/problem+json"


def test_requires_a_key(server_and_key: tuple[Server, str]) -> None:
    server, _ = server_and_key
    with server.client(None) as c:
        assert c.post("/v1/score/keypoints", json={}).status_code == 401
