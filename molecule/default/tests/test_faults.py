"""Faults the stack heals from by itself: a killed worker, a killed circusd, a restarted
host. Each ends with the site answering through nginx again, within a bound."""

import json
import subprocess
import time

from helpers import HTTP_GET, circusctl


def site_status(host):
    """The status of the health view through nginx, or None when nothing answers."""
    result = host.run("python3 -c %s %s", HTTP_GET, "http://127.0.0.1/healthz")
    return json.loads(result.stdout)["status"] if result.rc == 0 else None


def worker_pids(host):
    result = host.run(f"{circusctl(host)} --json list demo")
    return json.loads(result.stdout)["pids"] if result.rc == 0 else []


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(1)


def test_a_killed_worker_is_replaced_and_the_site_keeps_answering(host):
    pids = worker_pids(host)
    assert len(pids) == 2
    host.run_expect([0], f"kill -KILL {pids[0]}")
    wait_until(
        lambda: len(worker_pids(host)) == 2 and pids[0] not in worker_pids(host),
        30,
        "Circus replaced the killed worker",
    )
    assert pids[1] in worker_pids(host)
    assert site_status(host) == 200


def test_a_killed_circusd_is_restarted_by_systemd_and_the_site_answers_again(host):
    main_pid = host.check_output("systemctl show --property=MainPID --value circusd")
    old_workers = worker_pids(host)
    host.run_expect([0], f"kill -KILL {main_pid}")
    wait_until(
        lambda: (
            host.check_output("systemctl show --property=MainPID --value circusd")
            not in ("0", main_pid)
        ),
        60,
        "systemd restarted circusd",
    )
    wait_until(lambda: site_status(host) == 200, 60, "the site answers again")
    assert len(worker_pids(host)) == 2
    assert not set(worker_pids(host)) & set(old_workers)


def test_a_restarted_host_comes_back_serving(host):
    subprocess.run(["docker", "restart", host.backend.get_hostname()], check=True, timeout=120)
    wait_until(lambda: site_status(host) == 200, 120, "the site answers after a restart")
    assert host.service("circusd").is_running
    assert len(worker_pids(host)) == 2
