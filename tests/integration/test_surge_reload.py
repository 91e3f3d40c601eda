"""circus_watcher's surge reload against a real circusd whose workers take two seconds
to load their app: the old workers are stopped only after every new one is ready; when
the new ones never get ready, the old ones keep running. Circus's own reload is the
control that shows the ordering test can fail."""

import json
import subprocess
import sys
import time

import pytest

from conftest import HERE, module_result, run_circusd, start_module

HOOKS = HERE.parents[1] / "roles" / "django_app" / "files"
WORKER = f"{sys.executable} {HERE / 'workers' / 'warming_worker.py'}"
# A process that ignores SIGTERM: circusd waits graceful_timeout to kill it.
STUBBORN = (
    f"{sys.executable} -c "
    '"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(100000)"'
)
WARMING_INI = f"""\
[circus]
endpoint = {{endpoint}}
pubsub_endpoint = ipc://{{tmp}}/pubsub.sock
statsd = False

[watcher:warming]
cmd = {WORKER} {{tmp}}/events 2
numprocesses = 2
graceful_timeout = 5

[env:warming]
WEBSTACK_READY_DIR = {{tmp}}/ready
PYTHONPATH = {HOOKS}

[watcher:stuck]
cmd = {WORKER} {{tmp}}/events 3600
numprocesses = 2
graceful_timeout = 5

[env:stuck]
WEBSTACK_READY_DIR = {{tmp}}/ready-stuck
PYTHONPATH = {HOOKS}

[watcher:stubborn]
cmd = {STUBBORN}
numprocesses = 1
graceful_timeout = 8
"""


@pytest.fixture
def warming(tmp_path):
    (tmp_path / "ready").mkdir()
    (tmp_path / "ready-stuck").mkdir()
    yield from run_circusd(tmp_path, WARMING_INI)


def start_circus_watcher(circusd, **args):
    """Start the module once; module_result() gives its result."""
    return start_module(
        "circus_watcher", endpoint=circusd.endpoint, circusctl_path=circusd.circusctl, **args
    )


def circus_watcher(circusd, **args):
    """Run the module once; return its result."""
    return module_result(start_circus_watcher(circusd, **args))


def events(tmp_path):
    """{event: {pid: time}} from the workers' log."""
    seen = {}
    for line in (tmp_path / "events").read_text().splitlines():
        when, event, pid = line.split()
        seen.setdefault(event, {})[int(pid)] = float(when)
    return seen


def wait_for_ready(tmp_path, pids):
    """Wait until each of the warming watcher's pids has announced it is ready."""
    deadline = time.monotonic() + 30
    while not all((tmp_path / "ready" / str(pid)).exists() for pid in pids):
        assert time.monotonic() < deadline, f"{pids} not ready within 30 s"
        time.sleep(0.2)


def ready_warming_pids(circusd, tmp_path):
    pids = circus_watcher(circusd, name="warming")["pids"]
    wait_for_ready(tmp_path, pids)
    return pids


def test_surge_stops_the_old_workers_only_after_the_new_ones_are_ready(warming, tmp_path):
    old = ready_warming_pids(warming, tmp_path)
    result = circus_watcher(
        warming, name="warming", state="reloaded", surge=True, ready_dir=str(tmp_path / "ready")
    )
    assert result["changed"], result
    assert result["actions"] == ["incr warming 2", "decr warming 2"]
    assert result["stopped_pids"] == old
    assert sorted(result["pids"]) == result["started_pids"]
    assert len(result["started_pids"]) == 2
    seen = events(tmp_path)
    last_ready = max(seen["ready"][pid] for pid in result["started_pids"])
    assert min(seen["stopped"][pid] for pid in old) >= last_ready
    # The files of the stopped workers are forgotten at the next surge, not left to a
    # reused pid.
    circus_watcher(
        warming, name="warming", state="reloaded", surge=True, ready_dir=str(tmp_path / "ready")
    )
    assert not {str(pid) for pid in old} & {path.name for path in (tmp_path / "ready").iterdir()}


def test_circus_own_reload_stops_the_old_workers_before_the_new_ones_are_ready(warming, tmp_path):
    """The control: without surge the ordering assertion above fails."""
    old = ready_warming_pids(warming, tmp_path)
    result = circus_watcher(warming, name="warming", state="reloaded")
    assert result["stopped_pids"] == old
    wait_for_ready(tmp_path, result["started_pids"])
    seen = events(tmp_path)
    last_ready = max(seen["ready"][pid] for pid in result["started_pids"])
    assert min(seen["stopped"][pid] for pid in old) < last_ready


def circusctl(circusd, *args):
    """circusd's JSON reply to a command, from circusctl itself."""
    reply = subprocess.run(
        [circusd.circusctl, "--endpoint", circusd.endpoint, "--json", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(reply.stdout)


def configured_numprocesses(circusd, name):
    return circusctl(circusd, "get", name, "numprocesses")["options"]["numprocesses"]


def test_failed_surge_stops_the_new_workers_and_keeps_the_old_ones(warming, tmp_path):
    # The stuck watcher never announces readiness: its old workers get files by hand.
    old = circus_watcher(warming, name="stuck")["pids"]
    for pid in old:
        (tmp_path / "ready-stuck" / str(pid)).touch()
    result = circus_watcher(
        warming,
        name="stuck",
        state="reloaded",
        surge=True,
        ready_dir=str(tmp_path / "ready-stuck"),
        ready_timeout=3,
    )
    assert result["failed"], result
    assert circus_watcher(warming, name="stuck")["pids"] == old, result["msg"]
    assert configured_numprocesses(warming, "stuck") == 2
    new = result["new_pids"]
    assert len(new) == 2 and not set(new) & set(old), result
    assert set(events(tmp_path)["stopped"]) == set(new)
    assert "were not ready within 3s" in result["msg"]
    assert f"the old processes {old} keep serving, numprocesses back to 2" in result["msg"]
    assert (result["old_pids"], result["stopped_pids"], result["pids"]) == (old, new, old)
    # circusd's periodic check (every second here) must not bring the new ones back.
    time.sleep(2.5)
    assert circus_watcher(warming, name="stuck")["pids"] == old
    # The next run that asks for two processes has nothing to do: the old ones stay.
    again = circus_watcher(warming, name="stuck", numprocesses=2)
    assert not again["changed"], again
    assert again["pids"] == old
    assert set(events(tmp_path)["stopped"]) == set(new)


def test_what_the_app_user_puts_in_ready_dir_neither_breaks_nor_fakes_a_surge(warming, tmp_path):
    ready = tmp_path / "ready"
    (ready / "424242").mkdir()
    (tmp_path / "app-file").touch()
    (ready / "434343").symlink_to(tmp_path / "app-file")
    old = ready_warming_pids(warming, tmp_path)
    result = circus_watcher(
        warming, name="warming", state="reloaded", surge=True, ready_dir=str(ready)
    )
    assert result["changed"] and result["stopped_pids"] == old, result
    assert (ready / "424242").is_dir()
    assert not (ready / "434343").is_symlink()
    assert (tmp_path / "app-file").exists()

    # A symlink named after a new pid of the stuck watcher does not make it ready.
    old = circus_watcher(warming, name="stuck")["pids"]
    for pid in old:
        (tmp_path / "ready-stuck" / str(pid)).touch()
    run = start_circus_watcher(
        warming,
        name="stuck",
        state="reloaded",
        surge=True,
        ready_dir=str(tmp_path / "ready-stuck"),
        ready_timeout=15,
    )
    deadline = time.monotonic() + 30
    new = []
    while len(new) < 2:
        assert run.poll() is None, module_result(run)
        assert time.monotonic() < deadline, "the surge started no new process within 30 s"
        time.sleep(0.1)
        new = sorted(set(circusctl(warming, "list", "stuck")["pids"]) - set(old))
    for pid in new:
        (tmp_path / "ready-stuck" / str(pid)).symlink_to(tmp_path / "app-file")
    result = module_result(run)
    assert result["failed"], result
    assert result["new_pids"] == new
    assert circus_watcher(warming, name="stuck")["pids"] == old


def test_a_call_while_circusd_is_busy_waits_until_it_is_done(warming, tmp_path):
    """circusd refuses a change while it runs another ("arbiter is already running"):
    here a stop that waits graceful_timeout for a process that ignores SIGTERM. The module
    asks again until circusd takes its commands."""
    stop = [warming.circusctl, "--endpoint", warming.endpoint, "--timeout", "30"]
    stopping = subprocess.Popen([*stop, "stop", "stubborn", "--waiting"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    # A change that changes nothing: circusd refuses it while it stops stubborn.
    while "already running" not in circusctl(warming, "set", "warming", "numprocesses", "2").get(
        "reason", ""
    ):
        assert time.monotonic() < deadline, "circusd was never busy with the stop"
        time.sleep(0.1)
    result = circus_watcher(warming, name="warming", numprocesses=3)
    assert result["changed"] and not result.get("failed"), result
    assert configured_numprocesses(warming, "warming") == 3
    assert stopping.wait(timeout=30) == 0
    assert circusctl(warming, "status", "stubborn")["status"] == "stopped"
