"""webstack_drain makes a real Chaussette worker finish its request on SIGTERM."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).parent
DRAIN = HERE.parents[1] / "roles" / "django_app" / "files"
CHAUSSETTE = pathlib.Path(sys.executable).parent / "chaussette"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_worker(port, drain):
    hook = ["--pre-hook", "webstack_drain.install"] if drain else []
    env = dict(os.environ, PYTHONPATH=f"{DRAIN}:{HERE / 'drain'}")
    worker = subprocess.Popen(
        [
            str(CHAUSSETTE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *hook,
            "slow_app.application",
        ],
        env=env,
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


@pytest.fixture
def port():
    return free_port()


def test_request_in_progress_is_answered_then_the_worker_exits(port):
    worker = start_worker(port, drain=True)
    try:
        answer = get_slow_while_terminated(worker, port)
        assert answer.startswith(b"HTTP/1.0 200 OK")
        assert answer.endswith(b"done\n")
        assert worker.wait(timeout=5) == 0
    finally:
        worker.kill()


def test_idle_worker_exits_promptly(port):
    worker = start_worker(port, drain=True)
    try:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=3) == 0
    finally:
        worker.kill()


def test_without_drain_the_request_is_lost(port):
    """The control: plain Chaussette dies mid-request, so the test above can fail."""
    worker = start_worker(port, drain=False)
    try:
        assert get_slow_while_terminated(worker, port) == b""
        assert worker.wait(timeout=5) == -signal.SIGTERM
    finally:
        worker.kill()
