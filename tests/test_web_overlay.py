"""The skeleton overlay on the demo page, in a real headless Chromium against a real
`kneecave serve`: the knee marker is read back from the canvas pixels at the landmark's
display position (letterboxing included) in its rep's severity colour, on a desktop and a
phone-width layout, and a job reopened from its `#job=` link still shows the player.

Needs the Debian packages `chromium` and `chromium-driver`, like tests/test_web.py.
Screenshots for a human go to $TMP (never the repository).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import WebDriver, open_browser, screenshot, visible
from tests.clips import clip_path
from tests.service_support import Server, make_env

RESULT_TIMEOUT_S = 120.0
# One rep: the left knee tracks its foot ("none"), the right one caves ("mild").
PER_SIDE_CLIP = "front_overhead_squat_mild_right_valgus_7037"
# Six reps at 10 fps: three caving ("mild"), then three correct ("none").
CAVE_THEN_CORRECT_CLIP = "hard_10fps_front_valgus_then_correct"
PHONE = (390, 844)
GUIDE_RGB = (0x5F, 0xD3, 0xFF)  # the hip-ankle line and foot direction (web/overlay.js)
Box = dict[str, float]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("web-overlay")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("web-overlay").api_key
        server = Server(env, tmp)
        try:
            yield server, key
        finally:
            server.stop()


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[WebDriver]:
    with open_browser(tmp_path, 1280, 1800) as driver:
        yield driver


@pytest.fixture
def phone(tmp_path: Path) -> Iterator[WebDriver]:
    # A desktop window cannot be made this narrow: emulate the phone's screen, at twice the
    # pixel density (the canvas must draw in device pixels and still line up).
    with open_browser(tmp_path, 600, 900) as driver:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 2, "mobile": True},
        )
        yield driver


def _screenshot(driver: WebDriver, name: str) -> None:
    screenshot(driver, f"overlay-{name}")


def _analyse(
    driver: WebDriver, server: Server, key: str, clip: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Upload through the page; returns the job and its landmarks as the API reports them."""
    driver.get(f"{server.url}/")
    driver.find_element(By.ID, "api-key").send_keys(key)
    driver.find_element(By.ID, "video").send_keys(str(clip_path(clip)))
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, RESULT_TIMEOUT_S, poll_frequency=0.5).until(
        lambda d: visible(d, "result") or visible(d, "error")
    )
    assert not visible(driver, "error"), driver.find_element(By.ID, "error").text
    job_id = driver.execute_script("return location.hash").removeprefix("#job=")
    with server.client(key) as api:
        job: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", job
        r = api.get(f"/v1/jobs/{job_id}/landmarks")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return job, doc


def _frame_at(doc: dict[str, Any], t: float) -> int:
    """The landmark frame on screen at media time t (the last at or before it)."""
    return max(0, bisect.bisect_right(doc["t_s"], t + 0.002) - 1)


def _point(doc: dict[str, Any], frame: int, name: str) -> tuple[float, float]:
    i = doc["names"].index(name)
    row = doc["points"][frame]
    assert row is not None
    assert row[2 * i] is not None, (frame, name)
    return float(row[2 * i]), float(row[2 * i + 1])


def _geometry(driver: WebDriver, box_id: str) -> dict[str, Any]:
    """The box the frame is fitted into (the video element, or the stage without it), the
    canvas, and the frame size that box shows."""
    geometry: dict[str, Any] = driver.execute_script(
        """
        const box = document.getElementById(arguments[0]).getBoundingClientRect();
        const c = document.getElementById("overlay");
        const cr = c.getBoundingClientRect();
        const v = document.getElementById("video-player");
        return {box: {x: box.x, y: box.y, w: box.width, h: box.height},
                canvas: {x: cr.x, y: cr.y, w: cr.width, h: cr.height, px: c.width},
                video: [v.videoWidth, v.videoHeight], frame: c.dataset.frame,
                viewport: document.documentElement.clientWidth};
        """,
        box_id,
    )
    return geometry


def _on_screen(geometry: dict[str, Any], doc: dict[str, Any], xy: tuple[float, float]) -> Box:
    """Where a landmark lands in the page (object-fit: contain inside the box)."""
    box = geometry["box"]
    fw, fh = geometry["video"] if geometry["video"][0] else (doc["width"], doc["height"])
    s = min(box["w"] / fw, box["h"] / fh)
    ox, oy = (box["w"] - fw * s) / 2, (box["h"] - fh * s) / 2
    return {
        "x": box["x"] + ox + xy[0] * s * fw / doc["width"],
        "y": box["y"] + oy + xy[1] * s * fh / doc["height"],
    }


def _pixel(driver: WebDriver, geometry: dict[str, Any], at: Box) -> tuple[int, int, int, int]:
    canvas = geometry["canvas"]
    scale = canvas["px"] / canvas["w"]
    rgba: list[int] = driver.execute_script(
        "const c = document.getElementById('overlay');"
        "const d = c.getContext('2d').getImageData(arguments[0], arguments[1], 1, 1).data;"
        "return Array.from(d);",
        round((at["x"] - canvas["x"]) * scale - 0.5),
        round((at["y"] - canvas["y"]) * scale - 0.5),
    )
    r, g, b, a = rgba
    return r, g, b, a


def _css_colour(driver: WebDriver, severity: str) -> tuple[int, int, int]:
    value: str = driver.execute_script(
        "return getComputedStyle(document.documentElement).getPropertyValue(arguments[0]).trim()",
        f"--sev-{severity}",
    )
    assert len(value) == 7, value
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _close(rgba: tuple[int, int, int, int], rgb: tuple[int, int, int], tol: int = 12) -> bool:
    return rgba[3] == 255 and all(abs(a - b) <= tol for a, b in zip(rgba[:3], rgb, strict=True))


def _seek_to_bottom(driver: WebDriver, doc: dict[str, Any], rep: dict[str, Any]) -> int:
    """Click the rep's timeline mark; wait until its bottom frame is drawn. Returns it."""
    marks = driver.find_elements(By.CSS_SELECTOR, "#timeline button")
    marks[rep["index"] - 1].click()
    frame = _frame_at(doc, rep["bottom_s"])
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "overlay").get_attribute("data-frame") == str(frame)
    )
    return frame


def _knee_colours(
    driver: WebDriver, doc: dict[str, Any], frame: int, rep: dict[str, Any], box_id: str
) -> None:
    """Each knee marker is drawn at its landmark, in its side's severity colour."""
    geometry = _geometry(driver, box_id)
    for side in ("left", "right"):
        at = _on_screen(geometry, doc, _point(doc, frame, f"{side}_knee"))
        want = _css_colour(driver, rep["knee_cave"][side]["severity"])
        got = _pixel(driver, geometry, at)
        assert _close(got, want), (side, got, want, at, geometry)
        # 12 px off the marker (radius 7) is not the marker: it is where it should be.
        off = _pixel(driver, geometry, {"x": at["x"] + 12, "y": at["y"] - 12})
        assert not _close(off, want), (side, off)


def _assert_no_console_errors(driver: WebDriver) -> None:
    get_log: Callable[[str], list[dict[str, Any]]] = driver.get_log
    assert [e for e in get_log("browser") if e["level"] == "SEVERE"] == []


def test_knees_are_drawn_at_their_landmarks_in_their_sides_colour(
    served: tuple[Server, str], desktop: WebDriver
) -> None:
    server, key = served
    job, doc = _analyse(desktop, server, key, PER_SIDE_CLIP)
    rep = job["result"]["reps"][0]
    kc = rep["knee_cave"]
    # The clip's point: one side caves, the other does not, so the colours must differ.
    assert kc["left"]["severity"] != kc["right"]["severity"], kc
    WebDriverWait(desktop, 20).until(lambda d: visible(d, "overlay"))
    assert desktop.execute_script(
        "return 'requestVideoFrameCallback' in HTMLVideoElement.prototype"
    )

    frame = _seek_to_bottom(desktop, doc, rep)
    assert (
        abs(
            desktop.execute_script(
                "return arguments[0].currentTime", desktop.find_element(By.ID, "video-player")
            )
            - rep["bottom_s"]
        )
        < 0.02
    )
    geometry = _geometry(desktop, "video-player")
    assert geometry["video"] == [doc["width"], doc["height"]]
    assert geometry["canvas"]["w"] == pytest.approx(geometry["box"]["w"], abs=1)
    assert geometry["canvas"]["h"] == pytest.approx(geometry["box"]["h"], abs=1)
    _knee_colours(desktop, doc, frame, rep, "video-player")
    _screenshot(desktop, "desktop-bottom")

    # At the bottom (past 40% of the hip drop) the foot's direction is drawn from the ankle.
    side = "right"
    ankle, heel, toe = (_point(doc, frame, f"{side}_{n}") for n in ("ankle", "heel", "foot_index"))
    tip = (ankle[0] + (toe[0] - heel[0]) / 2, ankle[1] + (toe[1] - heel[1]) / 2)
    assert _close(_pixel(desktop, geometry, _on_screen(geometry, doc, tip)), GUIDE_RGB, 30)
    # Standing before the rep: no measure lines, the knees are not in a rep (white).
    desktop.execute_script(
        "const v = arguments[0]; v.currentTime = 0;", desktop.find_element(By.ID, "video-player")
    )
    WebDriverWait(desktop, 10).until(
        lambda d: d.find_element(By.ID, "overlay").get_attribute("data-frame") == "0"
    )
    standing = _geometry(desktop, "video-player")
    ankle0, heel0, toe0 = (_point(doc, 0, f"{side}_{n}") for n in ("ankle", "heel", "foot_index"))
    tip0 = (ankle0[0] + (toe0[0] - heel0[0]) / 2, ankle0[1] + (toe0[1] - heel0[1]) / 2)
    assert not _close(_pixel(desktop, standing, _on_screen(standing, doc, tip0)), GUIDE_RGB, 30)
    knee0 = _on_screen(standing, doc, _point(doc, 0, "left_knee"))
    assert _close(_pixel(desktop, standing, knee0), (255, 255, 255))

    # Letterboxed: a square box around a portrait video leaves bars left and right; the
    # skeleton must follow the picture, not the box.
    desktop.execute_script("document.getElementById('video-wrap').style.aspectRatio = '1'")
    frame = _seek_to_bottom(desktop, doc, rep)
    boxed = _geometry(desktop, "video-player")
    assert boxed["box"]["w"] == pytest.approx(boxed["box"]["h"], abs=1)
    _knee_colours(desktop, doc, frame, rep, "video-player")
    _assert_no_console_errors(desktop)


def test_phone_width_overlay_follows_the_video_and_reasons_differ(
    served: tuple[Server, str], phone: WebDriver
) -> None:
    server, key = served
    job, doc = _analyse(phone, server, key, CAVE_THEN_CORRECT_CLIP)
    reps = job["result"]["reps"]
    cave = next(r for r in reps if r["knee_cave"]["severity"] != "none")
    correct = next(r for r in reps if r["knee_cave"]["severity"] == "none")
    WebDriverWait(phone, 20).until(lambda d: visible(d, "overlay"))
    phone.execute_script("document.getElementById('player').scrollIntoView()")
    for name, rep in (("cave", cave), ("correct", correct)):
        frame = _seek_to_bottom(phone, doc, rep)
        geometry = _geometry(phone, "video-player")
        assert geometry["viewport"] == PHONE[0]
        assert geometry["canvas"]["px"] == pytest.approx(2 * geometry["canvas"]["w"], abs=1)
        assert geometry["box"]["x"] >= 0
        assert geometry["box"]["x"] + geometry["box"]["w"] <= geometry["viewport"] + 0.5
        for k in ("x", "y", "w", "h"):
            assert geometry["canvas"][k] == pytest.approx(geometry["box"][k], abs=1), k
        _knee_colours(phone, doc, frame, rep, "video-player")
        _screenshot(phone, f"phone-{name}-rep{rep['index']}")

    # Each exercise says why it fits, not the same sentence five times: the shared finding
    # is said once above the list.
    reasons = [e.text for e in phone.find_elements(By.CSS_SELECTOR, "#exercises small.because")]
    exercises = job["result"]["summary"]["exercises"]
    assert len(reasons) == len(exercises) >= 2
    assert len(set(reasons)) == len(reasons), reasons
    found = phone.find_element(By.ID, "exercises-found")
    assert found.is_displayed()
    assert exercises[0]["because"] in found.text
    assert all(exercises[0]["because"] not in r for r in reasons)
    _assert_no_console_errors(phone)


def test_a_reopened_job_plays_the_skeleton_alone_then_on_the_picked_file(
    served: tuple[Server, str], desktop: WebDriver
) -> None:
    server, key = served
    job, doc = _analyse(desktop, server, key, CAVE_THEN_CORRECT_CLIP)
    rep = next(r for r in job["result"]["reps"] if r["knee_cave"]["severity"] != "none")

    desktop.refresh()  # the page forgets the file; the server deleted its copy
    WebDriverWait(desktop, 30).until(lambda d: visible(d, "overlay"))
    assert visible(desktop, "player")
    assert not visible(desktop, "video-player")
    assert visible(desktop, "replay-file")
    assert visible(desktop, "skeleton-play")
    stage = _geometry(desktop, "video-wrap")["box"]
    assert stage["w"] / stage["h"] == pytest.approx(doc["width"] / doc["height"], rel=0.02)
    frame = _seek_to_bottom(desktop, doc, rep)
    _knee_colours(desktop, doc, frame, rep, "video-wrap")
    _screenshot(desktop, "reopened")

    # The skeleton plays on its own clock.
    desktop.find_element(By.ID, "skeleton-play").click()
    WebDriverWait(desktop, 10).until(
        lambda d: int(d.find_element(By.ID, "overlay").get_attribute("data-frame")) > frame + 3
    )
    desktop.find_element(By.ID, "skeleton-play").click()

    # The same file picked again: the video is back under the skeleton.
    desktop.find_element(By.ID, "replay-file").send_keys(str(clip_path(CAVE_THEN_CORRECT_CLIP)))
    WebDriverWait(desktop, 10).until(lambda d: visible(d, "video-player"))
    assert not visible(desktop, "replay-file")
    frame = _seek_to_bottom(desktop, doc, rep)
    _knee_colours(desktop, doc, frame, rep, "video-player")
    _assert_no_console_errors(desktop)
