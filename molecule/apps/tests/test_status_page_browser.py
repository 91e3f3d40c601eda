"""The status page in a real browser: Debian's headless Chromium on this machine, driven
by selenium through Debian's chromedriver, loads the page through nginx on the
container's address and sees the app scale from 2 to 3 workers, and back, without a
reload. Needs `make molecule-host-packages` (chromium, chromium-driver)."""

import base64
import shutil

import pytest
import test_status_page
from helpers import circusctl
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

# The address and the passwords, as the HTTP tests read them.
base_url = test_status_page.base_url
passwords = test_status_page.passwords
CHROMEDRIVER = "/usr/bin/chromedriver"
WATCHER = "demo"


@pytest.fixture
def browser(passwords):
    assert shutil.which("chromium") and shutil.which(CHROMEDRIVER), "make molecule-host-packages"
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1000,640")
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    # Basic auth on every request the page makes, as a browser that was given the
    # password once sends it.
    credentials = base64.b64encode(f"operator:{passwords['operator']}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    headers = {"Authorization": "Basic " + credentials}
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
    try:
        yield driver
    finally:
        driver.quit()


def shown_processes(driver):
    """The pids the page shows for the watcher, or None before its first update."""
    return driver.execute_script(
        """
        const section = document.querySelector(
          'section.watcher[data-watcher="' + arguments[0] + '"]');
        return section && Array.from(
          section.querySelectorAll("tr.process td:first-child"), td => td.textContent);
        """,
        WATCHER,
    )


def wait_for_count(driver, count, timeout=30):
    WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: (shown_processes(d) or []).__len__() == count,
        message=f"the page did not show {count} processes of {WATCHER}: {shown_processes(driver)}",
    )
    return shown_processes(driver)


def circus_pids(host):
    return sorted(host.check_output(circusctl(host) + " list " + WATCHER).split(","), key=int)


def test_a_scale_up_appears_on_the_open_page_and_the_operator_scales_down(host, browser, base_url):
    assert host.check_output(circusctl(host) + " numprocesses " + WATCHER) == "2"
    browser.get(base_url)
    assert browser.title == "Circus status"
    assert wait_for_count(browser, 2) == circus_pids(host)
    # Gone if the page were loaded again.
    browser.execute_script("window.sameDocument = true;")

    host.check_output(circusctl(host) + " incr --waiting " + WATCHER)
    assert wait_for_count(browser, 3) == circus_pids(host)
    assert browser.execute_script("return window.sameDocument === true;")
    test_status_page.SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(test_status_page.SCREENSHOT))

    decr = f'section.watcher[data-watcher="{WATCHER}"] button[data-action="decr"]'
    # The page updates the watchers in place: the button found is the one on the page.
    browser.find_element("css selector", decr).click()
    # circusd stops the process gracefully: up to the demo's graceful_timeout (30 s), then
    # the page's next refresh (2 s) shows it gone.
    assert wait_for_count(browser, 2, timeout=60) == circus_pids(host)
    assert host.check_output(circusctl(host) + " numprocesses " + WATCHER) == "2"
    assert browser.execute_script("return window.sameDocument === true;")
