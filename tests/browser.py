"""Headless Debian Chromium for the page's tests (packages `chromium` and `chromium-driver`,
which `make test` installs), driven by Selenium through an explicit chromedriver so Selenium
Manager never tries to download one."""

from __future__ import annotations

import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

WebDriver = webdriver.Chrome


def open_browser(tmp_path: Path, width: int, height: int) -> WebDriver:
    """A fresh headless browser with its own profile under ``tmp_path``; its console log is
    kept (`driver.get_log("browser")`)."""
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
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
