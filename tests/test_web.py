"""The demo page (web/) in a real headless Chromium against a real `kneecave serve`.

Needs the Debian packages `chromium` and `chromium-driver` (see .ci/run). The
page is driven like a person would: type the key, pick the clip, press
Analyse, wait for the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait
from starlette.routing import Mount

from service.webui import mount_web
from tests.browser import WebDriver, open_browser, screenshot, visible
from tests.clips import clip_path
from tests.service_support import Server, make_env

RESULT_TIMEOUT_S = 120.0
# Chrome's driver (not the generic remote one): it has get_log for the console.


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """One server for the module (starting it and loading the models is the slow part)."""
    tmp = tmp_path_factory.mktemp("web")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("web-test").api_key  # a real key: no dev key is printed
        server = Server(env, tmp)
        try:
            yield server, key
        finally:
            server.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    with open_browser(tmp_path, 1280, 1800) as driver:
        yield driver


def _screenshot(driver: WebDriver, name: str) -> None:
    screenshot(driver, f"web-{name}")


def _submit(
    driver: WebDriver,
    server: Server,
    key: str,
    video: Path,
    view: str = "auto",
    *,
    mirrored: bool = False,
) -> None:
    driver.get(f"{server.url}/")
    key_input = driver.find_element(By.ID, "api-key")
    key_input.clear()
    key_input.send_keys(key)
    Select(driver.find_element(By.ID, "view")).select_by_value(view)
    if mirrored:
        driver.find_element(By.ID, "mirrored").click()
    driver.find_element(By.ID, "video").send_keys(str(video))
    driver.find_element(By.ID, "submit").click()


def _wait_for_result_or_error(driver: WebDriver, timeout: float = RESULT_TIMEOUT_S) -> None:
    WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: visible(d, "result") or visible(d, "error")
    )


def _video(driver: WebDriver) -> Any:
    return driver.find_element(By.ID, "video-player")


def _error_text(driver: WebDriver) -> dict[str, str]:
    return {
        part: driver.find_element(By.ID, f"error-{part}").text
        for part in ("title", "detail", "code")
    }


def test_page_is_served_next_to_the_api(served: tuple[Server, str]) -> None:
    server, _ = served
    page = httpx.get(f"{server.url}/", timeout=10)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'id="upload-form"' in page.text
    for asset in ("app.js", "overlay.js", "style.css"):
        assert httpx.get(f"{server.url}/{asset}", timeout=10).status_code == 200
    # Every link of the page to this server leads somewhere (there is no /docs page).
    links = re.findall(r'href="([^"#:]+)"', page.text)
    assert "openapi.json" in links
    for link in links:
        assert httpx.get(f"{server.url}/{link}", timeout=10).status_code == 200, link
    # The API keeps its own routes and its problem+json 404s.
    assert httpx.get(f"{server.url}/healthz", timeout=10).json()["status"] == "ok"
    missing = httpx.get(f"{server.url}/v1/nothing-here", timeout=10)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_nothing_is_mounted_without_a_web_dir(tmp_path: Path) -> None:
    # An installed wheel has no web/: the API must come up exactly as without the page.
    app = FastAPI()
    mount_web(app, tmp_path / "no-web-here")
    assert not [r for r in app.routes if isinstance(r, Mount)]
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<!doctype html><title>t</title>")
    mount_web(app, tmp_path / "web")
    assert [r.path for r in app.routes if isinstance(r, Mount)] == [""]


def test_upload_shows_one_table_row_per_rep(served: tuple[Server, str], browser: WebDriver) -> None:
    server, key = served
    # Ticked as a selfie video: the option must reach the job (the rows are checked
    # against the job's own result either way).
    _submit(browser, server, key, clip_path("front_overhead_squat_good_7052"), mirrored=True)
    _wait_for_result_or_error(browser)
    _screenshot(browser, "result")
    assert not visible(browser, "error"), _error_text(browser)

    # The page keeps the job id in the URL; the API's own answer is the reference.
    job_id = browser.execute_script("return location.hash").removeprefix("#job=")
    with server.client(key) as api:
        job: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job
    assert job["mirrored"] is True
    result = job["result"]
    assert result["rep_count"] >= 1

    rows = browser.find_elements(By.CSS_SELECTOR, "#reps tbody tr")
    assert len(rows) == result["rep_count"]
    assert [r.find_element(By.TAG_NAME, "th").text for r in rows] == [
        str(rep["index"]) for rep in result["reps"]
    ]
    first = result["reps"][0]["knee_cave"]
    cells = rows[0].find_elements(By.TAG_NAME, "td")
    # td[2] is the left knee: its score and severity as the API reported them.
    assert cells[2].text.split() == [f"{first['left']['score']:.0f}", first["left"]["severity"]]
    # One point per scored rep in each side's hand-drawn SVG plot.
    for side in ("left", "right"):
        scored = [
            r for r in result["reps"] if (r["knee_cave"][side] or {}).get("score") is not None
        ]
        points = browser.find_elements(By.CSS_SELECTOR, f"#plot-{side} svg circle.point")
        assert len(points) == len(scored)
    assert browser.find_element(By.ID, "progress").get_attribute("value") == "1"

    # The video plays from the browser's own copy, with one timeline mark per rep;
    # a mark jumps to that rep's bottom and the table highlights the rep.
    assert visible(browser, "player")
    # On a wide window the video sits beside the summary, never over it.
    overview, player = (browser.find_element(By.ID, i) for i in ("overview", "player"))
    assert overview.rect["x"] + overview.rect["width"] <= player.rect["x"]
    # ...and the summary fits its own column rather than spilling under the video.
    widths = browser.execute_script(
        "return [arguments[0].scrollWidth, arguments[0].clientWidth]", overview
    )
    assert widths[0] <= widths[1], widths
    marks = browser.find_elements(By.CSS_SELECTOR, "#timeline button")
    assert len(marks) == result["rep_count"]
    marks[0].click()
    bottom_s = result["reps"][0]["bottom_s"]
    WebDriverWait(browser, 10).until(
        lambda d: (
            abs(d.execute_script("return arguments[0].currentTime", _video(d)) - bottom_s) < 0.05
        )
    )
    assert browser.execute_script("return arguments[0].error", _video(browser)) is None
    assert marks[0].get_attribute("aria-current") == "true"
    assert "current" in (rows[0].get_attribute("class") or "")
    assert visible(browser, "video-badge")

    # No CSP violation or script error on the way (failed loads of our own data
    # would show here too).
    get_log: Callable[[str], list[dict[str, Any]]] = browser.get_log  # untyped in selenium
    severe = [e for e in get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []

    # The key is remembered across a reload, and the job is picked up again from the URL.
    browser.refresh()
    assert browser.find_element(By.ID, "api-key").get_attribute("value") == key
    _wait_for_result_or_error(browser, timeout=30)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#reps tbody tr")) == result["rep_count"]


def test_non_video_upload_shows_the_problem_title(
    served: tuple[Server, str], browser: WebDriver, tmp_path: Path
) -> None:
    server, key = served
    not_video = tmp_path / "squat-notes.txt"
    not_video.write_text("3 x 10 goblet squats, knees caved on the last two\n" * 20)
    with server.client(key) as api, not_video.open("rb") as f:
        expected = api.post("/v1/jobs", files={"video": (not_video.name, f, "video/mp4")})
    assert expected.status_code == 415

    _submit(browser, server, key, not_video)
    _wait_for_result_or_error(browser, timeout=30)
    _screenshot(browser, "error")
    assert visible(browser, "error")
    assert not visible(browser, "result")
    shown = _error_text(browser)
    problem = expected.json()
    assert shown == {
        "title": problem["title"],
        "detail": problem["detail"],
        "code": problem["code"],
    }


def test_wrong_key_shows_unauthorized(served: tuple[Server, str], browser: WebDriver) -> None:
    server, _ = served
    _submit(
        browser,
        server,
        "kc_000000000000_not-a-real-key",
        clip_path("front_overhead_squat_good_7052"),
    )
    _wait_for_result_or_error(browser, timeout=30)
    assert visible(browser, "error")
    assert browser.find_element(By.ID, "error-code").text == "unauthorized"


def _video_without_a_person(path: Path) -> Path:
    """A valid 2 s mp4 of a grey blob: decodes fine, but there is nobody to score."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (180, 320))
    assert writer.isOpened()
    for i in range(60):
        frame = np.full((320, 180, 3), 40, np.uint8)
        cv2.circle(frame, (90, 100 + i), 14, (200, 200, 200), -1)
        writer.write(frame)
    writer.release()
    return path


def test_failed_job_shows_its_code(
    served: tuple[Server, str], browser: WebDriver, tmp_path: Path
) -> None:
    server, key = served
    _submit(browser, server, key, _video_without_a_person(tmp_path / "empty-room.mp4"))
    _wait_for_result_or_error(browser)
    assert visible(browser, "error")
    job_id = browser.execute_script("return location.hash").removeprefix("#job=")
    with server.client(key) as api:
        job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "failed", job
    shown = _error_text(browser)
    assert shown["title"] == "Analysis failed"
    assert shown["code"] == job["error"]["code"]
    assert shown["detail"] == job["error"]["detail"]
    assert not visible(browser, "result")
