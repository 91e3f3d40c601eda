"""On a failed test, print what the fleet's services said, so CI logs show why: nginx's
error log names the app host and what it did to a request that failed, and the app
hosts' Circus logs show the reloads and the workers' own messages."""

import pytest
from fleet_hosts import fleet_host

APP_LOGS = (
    "tail -n 40 /var/log/circus/circusd.log /var/log/circus/demo.stderr.log "
    "/var/log/circus/demo.stdout.log"
)
DIAGNOSTICS = {
    "webstack-fleet-proxy": "tail -n 40 /var/log/nginx/error.log",
    "webstack-fleet-proxy2": "tail -n 40 /var/log/nginx/error.log",
    "webstack-fleet-app1": APP_LOGS,
    "webstack-fleet-app2": APP_LOGS,
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    del item, call
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for name, command in DIAGNOSTICS.items():
            result = fleet_host(name).run(command)
            report.sections.append((f"{name}: {command}", result.stdout + result.stderr))
