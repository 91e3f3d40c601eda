"""A worker runs the release it started in, even when `current` moves under it.

A real circusd runs one worker of each server with the watcher as the django_app role
writes it: the command and the working directory through `current`, PYTHONPATH `.`.
The app imports a module only at its first request, which comes after `current` moved
to another release: the worker must still answer with its own release, and only
workers started after the move (a Circus reload) answer with the new one. The control
puts `current` itself on PYTHONPATH, as a naive layout would, and sees the lazy import
cross into the new release: the test can tell the two apart.
"""

import http.client
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.webstack.circus.plugins.module_utils import releases
from conftest import run_circusd

HERE = pathlib.Path(__file__).parent
HOOKS = HERE.parents[1] / "roles" / "django_app" / "files"
VENV = pathlib.Path(sys.executable).parent.parent
OLD, NEW = "0000000000000a11", "0000000000000b22"
SERVERS = {
    "chaussette": "chaussette --fd $(circus.sockets.web) --pre-hook webstack_worker.serve "
    "pinned_app.application",
    "gunicorn": "gunicorn --bind fd://$(circus.sockets.web) --workers 1 --no-control-socket "
    "--config python:webstack_worker pinned_app:application",
    "uvicorn": "uvicorn --fd $(circus.sockets.web) --no-use-colors --factory webstack_worker:asgi",
}
WATCHER = """\
[circus]
endpoint = {{endpoint}}
pubsub_endpoint = ipc://{{tmp}}/pubsub.sock
multicast_endpoint =
statsd = False

[watcher:web]
cmd = {home}/current/venv/bin/{command}
use_sockets = True
numprocesses = 1
working_dir = {home}/current/app
copy_env = False
graceful_timeout = 5

[env:web]
PYTHONPATH = {pythonpath}:{hooks}
WEBSTACK_READY_DIR = {home}/ready
WEBSTACK_ASGI_APP = pinned_app:asgi

[socket:web]
host = 127.0.0.1
port = {{port}}
"""


def build_release(home, release):
    app = home / "releases" / release / "app"
    app.mkdir(parents=True)
    shutil.copy(HERE / "workers" / "pinned_app.py", app)
    (app / "lazy.py").write_text(f"RELEASE = {release!r}\n")
    (home / "releases" / release / "venv").symlink_to(VENV)


def wait_for_ready_workers(ready_dir, count, timeout=60):
    deadline = time.monotonic() + timeout
    while len(os.listdir(ready_dir)) < count:
        assert time.monotonic() < deadline, "the worker did not announce that it loaded the app"
        time.sleep(0.2)


def ask(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/")
        release, pid = connection.getresponse().read().decode().split()
        return release, int(pid)
    finally:
        connection.close()


@pytest.fixture(params=sorted(SERVERS))
def server(request):
    return request.param


def run_pinned(tmp_path, server, pythonpath):
    """Start the worker on the old release, move `current`, yield (circusd, port, ready dir)."""
    home = tmp_path / "app"
    (home / "ready").mkdir(parents=True)
    build_release(home, OLD)
    build_release(home, NEW)
    releases.switch_current(home, OLD)
    ini = WATCHER.format(
        home=home,
        command=SERVERS[server],
        pythonpath=pythonpath.format(home=home),
        hooks=HOOKS,
    )
    for circusd in run_circusd(tmp_path, ini):
        wait_for_ready_workers(home / "ready", 1)
        releases.switch_current(home, NEW)
        yield circusd, home


def test_a_running_worker_keeps_its_release_after_current_moves(tmp_path, server):
    for circusd, home in run_pinned(tmp_path, server, "."):
        release, first_pid = ask(circusd.socket_port)
        assert release == OLD
        subprocess.run(
            [circusd.circusctl, "--endpoint", circusd.endpoint, "reload", "web", "--waiting"],
            check=True,
            capture_output=True,
        )
        wait_for_ready_workers(home / "ready", 2)
        for _attempt in range(50):
            release, pid = ask(circusd.socket_port)
            if pid != first_pid:
                break
            time.sleep(0.2)
        assert (release, pid != first_pid) == (NEW, True)


def test_control_current_on_the_path_leaks_the_new_release_into_an_old_worker(tmp_path):
    for circusd, _home in run_pinned(tmp_path, "chaussette", "{home}/current/app"):
        assert ask(circusd.socket_port)[0] == NEW
