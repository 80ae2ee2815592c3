"""The operator console in a real browser: Debian's headless Chromium, driven by Selenium,
against the service as gunicorn runs it (production settings) on a private Redis that the
test stops and starts again while the page is open.

Nothing is downloaded: Selenium is given Debian's chromedriver and Chromium by path, and
Selenium Manager (which would look for or fetch a driver) is made to fail if it is asked.
Set CONSOLE_SCREENSHOT=<path> to keep the screenshot the test takes (the README's picture).
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.support.ui import WebDriverWait

from scripts.processes import GunicornService, PrivateRedis
from tests.helpers import service_env
from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1360,1500")
MB = 1_000_000

pytestmark = pytest.mark.slow


def _no_selenium_manager(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("Selenium Manager was asked for a driver: nothing may be downloaded")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: Any) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile, its console log kept for the test."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: apt-get install -y chromium chromium-driver")
    monkeypatch.setattr(SeleniumManager, "binary_paths", _no_selenium_manager)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER,
                      log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: webdriver.Chrome, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def _state(driver: webdriver.Chrome, element_id: str) -> str | None:
    return driver.find_element(By.ID, element_id).get_attribute("data-state")


def _wait(driver: webdriver.Chrome, seconds: float, what: str, check: Any) -> None:
    try:
        WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: check(d))
    except Exception as exc:
        banner = driver.find_elements(By.ID, "banner")
        shown = banner[0].text if banner else driver.page_source[:800]
        raise AssertionError(f"{what} not seen within {seconds} s; page shows: {shown}") from exc


def _megabytes(shown: str) -> float:
    match = re.fullmatch(r"(\d+\.\d\d) MB", shown)
    assert match, shown
    return float(match.group(1))


def test_the_console_shows_real_figures_and_a_redis_outage_without_a_reload(
        browser: webdriver.Chrome, make_app: Any, database_url: str, db: Any,
        tmp_path: Path) -> None:
    admin = AuthActions(make_app()).register("admin", email="operator@example.com")
    with PrivateRedis(tmp_path / "redis") as redis_server:
        # Its private Redis has no maxmemory: the gauge measures against the free plan's 25 MB.
        env = service_env(database_url, redis_server.url, ALERT_CHECK_INTERVAL="1",
                          REDIS_MEMORY_LIMIT="25000000")
        with GunicornService(env, tmp_path, name="console") as service:
            # Anonymous: the console sends the browser to its login page.
            browser.get(service.url + "/admin/")
            _wait(browser, 10, "the login page", lambda d: d.current_url.endswith("/admin/login"))
            browser.find_element(By.ID, "email").send_keys(admin["user"]["email"])
            browser.find_element(By.ID, "password").send_keys(DEFAULT_PASSWORD)
            browser.find_element(By.ID, "signin").click()
            _wait(browser, 10, "the console", lambda d: d.current_url.endswith("/admin/"))

            # Real numbers: the memory gauge says what Redis says.
            _wait(browser, 15, "Redis up with figures", lambda d: (
                _state(d, "redis-state") == "up" and _text(d, "memory-used").endswith(" MB")))
            shown = _megabytes(_text(browser, "memory-used"))
            server = redis_lib.Redis.from_url(redis_server.url)
            used = server.info("memory")["used_memory"] / MB
            server.close()
            assert abs(shown - used) <= max(0.5, used * 0.25), (shown, used)
            assert "REDIS_MEMORY_LIMIT" in _text(browser, "memory-limit")  # no maxmemory set
            assert "25.00 MB" in _text(browser, "memory-limit")
            assert re.fullmatch(r"\d+ / 10", _text(browser, "connections-used"))
            assert _state(browser, "postgres-state") == "up"
            assert _text(browser, "count-users") == "1"
            assert _text(browser, "banner") == "Redis and PostgreSQL are up."
            _wait(browser, 15, "a history line", lambda d: d.find_elements(
                By.CSS_SELECTOR, "#chart-memory path.line"))
            browser.save_screenshot(str(tmp_path / "console.png"))
            if os.environ.get("CONSOLE_SCREENSHOT"):
                shutil.copyfile(tmp_path / "console.png", os.environ["CONSOLE_SCREENSHOT"])
            browser.execute_script("window.consoleNeverReloaded = true;")

            # Redis goes away: the open page says so, plainly, within a few seconds.
            redis_server.stop()
            _wait(browser, 12, "the outage", lambda d: _state(d, "redis-state") == "down")
            banner = _text(browser, "banner")
            assert banner.startswith("Redis is down since "), banner
            assert "PostgreSQL's are below" in banner
            assert _text(browser, "memory-used") == "unavailable"
            assert _state(browser, "postgres-state") == "up"
            assert _text(browser, "count-users") == "1"  # PostgreSQL's figures remain
            assert re.fullmatch(r"\d+ of \d+ in use", _text(browser, "postgres-pool"))
            assert "unreachable since" in _text(browser, "redis-detail")

            # Redis is back (empty, as a free Key Value after a restart): so is the page.
            redis_server.start()
            _wait(browser, 20, "the recovery", lambda d: _state(d, "redis-state") == "up")
            _wait(browser, 10, "the all-clear", lambda d: _text(
                d, "banner") == "Redis and PostgreSQL are up.")
            assert "back since" in _text(browser, "redis-detail")
            assert _text(browser, "memory-used").endswith(" MB")
            assert browser.execute_script("return window.consoleNeverReloaded === true;")
            assert browser.current_url.endswith("/admin/")

            severe = [entry["message"] for entry in browser.get_log("browser")
                      if entry["level"] == "SEVERE"]
            assert severe == [], severe  # no CSP violation, no failed request, no JS error

            # Signing out ends it.
            browser.find_element(By.ID, "signout").click()
            _wait(browser, 10, "the signed-out page", lambda d: "signed_out" in d.current_url)
            assert _text(browser, "notice") == "You are signed out."
            browser.get(service.url + "/admin/")
            assert browser.current_url.endswith("/admin/login")
