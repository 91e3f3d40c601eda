"""On a failed test, print what the host's services said, so CI logs show why."""

import pytest

DIAGNOSTICS = [
    "systemctl --no-pager status circusd nginx",
    "journalctl --no-pager -n 60 -u circusd -u nginx",
    "tail -n 60 /var/log/circus/circusd.log /var/log/circus/demo.stderr.log",
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    host = item.funcargs.get("host")
    if report.when == "call" and report.failed and host is not None:
        for command in DIAGNOSTICS:
            result = host.run(command)
            report.sections.append((command, result.stdout + result.stderr))


@pytest.fixture(scope="module")
def bookworm(host):
    """The Debian 12 host, for tests run on one host only: more runs of site.yml (the same
    roles run on both hosts), or a deploy from a directory (Debian 13 deploys from git)."""
    if host.backend.get_hostname() != "webstack-bookworm":
        pytest.skip("checked on webstack-bookworm")
    return host
