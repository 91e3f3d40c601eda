"""Real workers of every server the django_app role offers, with the role's hooks
(roles/django_app/files/webstack_worker.py): each announces that it has loaded the app,
and on SIGTERM finishes the request it is serving (Chaussette with the hook, gunicorn by
itself)."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).parent
HOOKS = HERE.parents[1] / "roles" / "django_app" / "files"
BIN = pathlib.Path(sys.executable).parent
# The worker command lines, as the django_app role runs them (with a port, not Circus's fd).
SERVERS = {
    "chaussette": [str(BIN / "chaussette"), "slow_app.application"],
    "chaussette with drain": [
        str(BIN / "chaussette"),
        "--pre-hook",
        "webstack_worker.serve",
        "slow_app.application",
    ],
    "chaussette without drain": [
        str(BIN / "chaussette"),
        "--pre-hook",
        "webstack_worker.serve_without_drain",
        "slow_app.application",
    ],
    "gunicorn": [
        str(BIN / "gunicorn"),
        "--workers",
        "1",
        "--graceful-timeout",
        "10",
        "--no-control-socket",
        "--config",
        "python:webstack_worker",
        "slow_app:application",
    ],
}


def start_worker(port, server, ready_dir=None):
    command, *args = SERVERS[server]
    address = (
        ["--bind", f"127.0.0.1:{port}"]
        if server == "gunicorn"
        else ["--host", "127.0.0.1", "--port", str(port)]
    )
    worker = subprocess.Popen(
        [command, *address, *args],
        cwd=HERE / "workers",
        env=dict(
            os.environ,
            PYTHONPATH=f"{HOOKS}:{HERE / 'workers'}",
            WEBSTACK_READY_DIR=str(ready_dir or ""),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert worker.poll() is None and time.monotonic() < deadline, "worker did not start"
            time.sleep(0.1)
    return worker


def get_slow_while_terminated(worker, port):
    """Sends GET /slow, SIGTERMs the worker while it serves it, returns the raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /slow HTTP/1.0\r\nHost: test\r\n\r\n")
        time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        answer = b""
        try:
            while chunk := client.recv(4096):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


@pytest.mark.parametrize("server", ["chaussette with drain", "gunicorn"])
def test_request_in_progress_is_answered_then_the_worker_exits(port, server):
    worker = start_worker(port, server)
    try:
        answer = get_slow_while_terminated(worker, port)
        assert answer.split(b"\r\n", 1)[0].endswith(b" 200 OK")
        assert answer.endswith(b"done\n")
        assert worker.wait(timeout=5) == 0
    finally:
        worker.kill()


@pytest.mark.parametrize("server", ["chaussette with drain", "gunicorn"])
def test_idle_worker_exits_promptly(port, server):
    worker = start_worker(port, server)
    try:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=3) == 0
    finally:
        worker.kill()


def test_without_drain_chaussette_loses_the_request(port):
    """The control: plain Chaussette dies mid-request, so the tests above can fail."""
    worker = start_worker(port, "chaussette")
    try:
        assert get_slow_while_terminated(worker, port) == b""
        assert worker.wait(timeout=5) == -signal.SIGTERM
    finally:
        worker.kill()


@pytest.mark.parametrize(
    "server", ["chaussette with drain", "chaussette without drain", "gunicorn"]
)
def test_worker_announces_it_is_ready_under_the_pid_circus_started(port, tmp_path, server):
    worker = start_worker(port, server, ready_dir=tmp_path)
    try:
        # The worker answers, so it has loaded the app: its file is there by now.
        assert sorted(path.name for path in tmp_path.iterdir()) == [str(worker.pid)]
    finally:
        worker.kill()


def test_worker_that_cannot_write_its_file_still_serves(port, tmp_path):
    worker = start_worker(port, "chaussette with drain", ready_dir=tmp_path / "missing")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
            assert client.recv(4096).split(b"\r\n", 1)[0].endswith(b" 200 OK")
    finally:
        worker.kill()
