"""app_workers against a real circusd whose watcher runs in the app's `current` release,
as the django_app role writes it: a release whose workers never get ready leaves the old
workers serving and `current` on their release, so a worker circusd starts afterwards
starts that release too; a good release then moves every worker."""

import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import CIRCUS_HEADER, HERE, run_circusd, run_module

HOOKS = HERE.parents[1] / "roles" / "django_app" / "files"
WORKER = f"{sys.executable} {HERE / 'workers' / 'warming_worker.py'}"
APP_INI = (
    CIRCUS_HEADER
    + f"""
[watcher:app]
cmd = {WORKER} {{tmp}}/events @load
working_dir = {{tmp}}/home/current/app
numprocesses = 2
graceful_timeout = 5

[env:app]
WEBSTACK_READY_DIR = {{tmp}}/ready
PYTHONPATH = {HOOKS}
"""
)
OLD, HANGING, GOOD = "0" * 16, "1" * 16, "2" * 16
OLD_LOADED = f"{OLD}+aaaaaaaaaaaa"


def release(tmp_path, name, load_seconds):
    app = tmp_path / "home" / "releases" / name / "app"
    app.mkdir(parents=True)
    (app / "load").write_text(str(load_seconds))


@pytest.fixture
def app(tmp_path):
    """circusd running two workers of release OLD, recorded as loaded, all ready."""
    (tmp_path / "ready").mkdir()
    release(tmp_path, OLD, 0.5)
    release(tmp_path, HANGING, 3600)
    release(tmp_path, GOOD, 0.5)
    home = tmp_path / "home"
    (home / "current").symlink_to(f"releases/{OLD}")
    (home / "deploy-state.json").write_text(json.dumps(dict(history=[OLD], loaded=OLD_LOADED)))
    for circusd in run_circusd(tmp_path, APP_INI):
        wait_until_all_run(circusd, tmp_path, OLD)
        yield circusd


def app_workers(circusd, tmp_path, **args):
    return run_module(
        "app_workers",
        path=str(tmp_path / "home"),
        name="app",
        ready_dir=str(tmp_path / "ready"),
        endpoint=circusd.endpoint,
        circusctl_path=circusd.circusctl,
        **args,
    )


def pids(circusd):
    reply = subprocess.run(
        [circusd.circusctl, "--endpoint", circusd.endpoint, "--json", "list", "app"],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(json.loads(reply.stdout)["pids"])


def releases_run(circusd):
    """{pid: the release its working directory is in} for the watcher's processes."""
    return {
        pid: os.readlink(f"/proc/{pid}/cwd").split("/releases/")[1].split("/")[0]
        for pid in pids(circusd)
    }


def wait_until_all_run(circusd, tmp_path, name, count=2):
    """Wait until count processes run release name and each one is ready."""
    deadline = time.monotonic() + 30
    while True:
        running = releases_run(circusd)
        ready = all((tmp_path / "ready" / str(pid)).exists() for pid in running)
        if len(running) == count and set(running.values()) == {name} and ready:
            return sorted(running)
        assert time.monotonic() < deadline, f"{running} do not all run {name}"
        time.sleep(0.2)


def recorded(tmp_path):
    home = tmp_path / "home"
    state = json.loads((home / "deploy-state.json").read_text())
    state.pop("load_seconds", None)  # how long the workers' load took: any time
    return os.readlink(home / "current").rsplit("/", 1)[1], state


def test_a_release_that_never_gets_ready_leaves_current_on_the_release_the_workers_run(
    app, tmp_path
):
    old = pids(app)
    failed = app_workers(
        app, tmp_path, release=HANGING, loaded=f"{HANGING}+bbbbbbbbbbbb", ready_timeout=3
    )
    assert failed["failed"], failed
    assert failed["restored"] and failed["current"] == OLD, failed
    assert f"current is back on {OLD}" in failed["msg"]
    assert releases_run(app) == dict.fromkeys(old, OLD)
    assert recorded(tmp_path) == (OLD, dict(history=[OLD], loaded=OLD_LOADED))
    # A worker that circusd starts from now on starts the release the others run.
    os.kill(old[0], signal.SIGKILL)
    replaced = wait_until_all_run(app, tmp_path, OLD)
    assert old[0] not in replaced
    for pid in replaced:
        os.kill(pid, signal.SIGKILL)
    wait_until_all_run(app, tmp_path, OLD)
    # Then a good release moves every worker.
    moved = app_workers(app, tmp_path, release=GOOD, loaded=f"{GOOD}+cccccccccccc")
    assert moved["changed"] and moved["moved"] and moved["current"] == GOOD, moved
    assert moved["actions"] == [f"current -> {GOOD}", "incr app 2", "decr app 2"]
    assert releases_run(app) == dict.fromkeys(moved["started_pids"], GOOD)
    current, state = recorded(tmp_path)
    assert current == GOOD and state["history"] == [OLD, GOOD]
    assert state["loaded"] == f"unknown: a reload to {GOOD}+cccccccccccc has not finished"


def test_workers_that_run_the_recorded_release_stay(app, tmp_path):
    old = pids(app)
    stay = app_workers(app, tmp_path, release=OLD, loaded=OLD_LOADED, numprocesses=2)
    assert not stay["changed"] and not stay["moved"], stay
    assert pids(app) == old
    scaled = app_workers(app, tmp_path, release=OLD, loaded=OLD_LOADED, numprocesses=3)
    assert scaled["changed"] and scaled["actions"] == ["set app numprocesses 3"], scaled
    # The two old workers stay beside the new one (pids may wrap: no order is assumed).
    assert set(old) < set(wait_until_all_run(app, tmp_path, OLD, count=3))


def test_workers_started_on_the_first_release_are_not_loaded_twice(app, tmp_path):
    """No release was recorded loaded and `current` names it: circusd started the
    workers on it, nothing else serves, so they are waited for, not replaced."""
    (tmp_path / "home" / "deploy-state.json").unlink()
    old = pids(app)
    first = app_workers(app, tmp_path, release=OLD, loaded=OLD_LOADED)
    assert first["changed"] and first["moved"], first
    assert first["actions"] == [f"current -> {OLD}", "wait until 2 processes of app are ready"]
    assert pids(app) == old


@contextlib.contextmanager
def health_answering(status):
    """An HTTP server on the loopback that answers every GET with status."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            del args

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/health/"
    finally:
        server.shutdown()


def deploy_good(app, tmp_path, health_url):
    """app_workers as the role calls it: a command first, the static files, the health
    check and the record."""
    static = tmp_path / "home" / "releases" / GOOD / "static"
    static.mkdir()
    (static / "site.css").write_text("body{}")
    # What current names while the command runs, and the processes then.
    command = ["sh", "-c", f"readlink {tmp_path}/home/current > {tmp_path}/seen"]
    return app_workers(
        app,
        tmp_path,
        release=GOOD,
        loaded=f"{GOOD}+cccccccccccc",
        commands=[command],
        static_root=str(tmp_path / "static"),
        reload_config=True,
        health_url=health_url,
        health_retries=2,
        keep=2,
    )


def test_a_deploy_runs_its_commands_first_then_moves_answers_and_records(app, tmp_path):
    old = pids(app)
    with health_answering(200) as url:
        done = deploy_good(app, tmp_path, url)
    assert done["changed"] and done["moved"] and not done.get("failed"), done
    # The command ran before any worker moved.
    assert (tmp_path / "seen").read_text().strip() == f"releases/{OLD}"
    assert set(done["stopped_pids"]) == set(old)
    assert releases_run(app) == dict.fromkeys(done["started_pids"], GOOD)
    assert (tmp_path / "static" / "site.css").read_text() == "body{}"
    assert recorded(tmp_path) == (GOOD, dict(history=[OLD, GOOD], loaded=f"{GOOD}+cccccccccccc"))
    # The release never made current goes first; the one before current stays.
    assert done["removed"] == [HANGING]
    assert sorted(os.listdir(tmp_path / "home" / "releases")) == [OLD, GOOD]


def test_an_app_that_does_not_answer_is_not_recorded_as_loaded(app, tmp_path):
    with health_answering(503) as url:
        failed = deploy_good(app, tmp_path, url)
    assert failed["failed"], failed
    assert f"{url} did not answer 200 in 2 tries (last: 503)" in failed["msg"]
    # The workers run the release, current names it, and the next run moves them again.
    assert set(releases_run(app).values()) == {GOOD}
    current, state = recorded(tmp_path)
    assert current == GOOD
    assert state["loaded"] == f"unknown: a reload to {GOOD}+cccccccccccc has not finished"
