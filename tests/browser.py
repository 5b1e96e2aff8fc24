"""Headless Debian Chromium for the page's tests (packages `chromium` and `chromium-driver`,
which `make test` installs), driven by Selenium through an explicit chromedriver so Selenium
Manager never tries to download one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

WebDriver = webdriver.Chrome


@contextmanager
def open_browser(tmp_path: Path, width: int, height: int) -> Iterator[WebDriver]:
    """A fresh headless browser with its own profile under ``tmp_path``, quit on leaving;
    its console log is kept (`driver.get_log("browser")`)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
        f"--user-data-dir={tmp_path / f'chromium-{width}x{height}'}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def visible(driver: WebDriver, element_id: str) -> bool:
    return bool(driver.find_element(By.ID, element_id).is_displayed())


def screenshot(driver: WebDriver, name: str) -> None:
    """For a human to look at; $TMP (or the system temp dir), never the repository."""
    out = Path(os.environ.get("TMP") or os.environ.get("TMPDIR") or "/tmp")
    driver.save_screenshot(str(out / f"kneecave-{name}.png"))
