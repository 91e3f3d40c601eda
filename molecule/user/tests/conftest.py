"""On a failed test, print what the web host's services said: nginx's error log, certbot's
log, and the app's Circus logs."""

import subprocess

import pytest

DIAGNOSTICS = (
    "tail -n 30 /var/log/nginx/error.log",
    "tail -n 40 /var/log/letsencrypt/letsencrypt.log",
    "tail -n 30 /var/log/circus/circusd.log /var/log/circus/mysite.stderr.log",
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    del item, call
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for command in DIAGNOSTICS:
            result = subprocess.run(
                ["docker", "exec", "webstack-user-web", "sh", "-c", command],
                capture_output=True,
                text=True,
                check=False,
            )
            report.sections.append((f"webstack-user-web: {command}", result.stdout + result.stderr))
