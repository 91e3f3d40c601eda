"""Real workers of every server the django_app role offers, on a listening socket they
inherit as a file descriptor, as Circus hands it, with the role's hooks
(roles/django_app/files/webstack_worker.py): each announces that it has loaded the app,
and on SIGTERM finishes the request it is serving and exits (Chaussette with the hook,
gunicorn and uvicorn by themselves), while the socket stays open for the others; and
each logs a line per request only with the access log on (django_app_access_log)."""

import contextlib
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
# The worker command lines as the django_app role writes them; FD is the socket's fd.
SERVERS = {
    "chaussette": ["chaussette", "--fd", "FD", "slow_app.application"],
    "chaussette with drain": [
        "chaussette",
        "--fd",
        "FD",
        "--pre-hook",
        "webstack_worker.serve",
        "slow_app.application",
    ],
    "chaussette without drain": [
        "chaussette",
        "--fd",
        "FD",
        "--pre-hook",
        "webstack_worker.serve_without_drain",
        "slow_app.application",
    ],
    "gunicorn": [
        "gunicorn",
        "--bind",
        "fd://FD",
        "--workers",
        "1",
        "--graceful-timeout",
        "10",
        "--no-control-socket",
        "--config",
        "python:webstack_worker",
        "slow_app:application",
    ],
    "uvicorn": [
        "uvicorn",
        "--fd",
        "FD",
        "--timeout-graceful-shutdown",
        "10",
        "--no-use-colors",
        "--no-access-log",
        "--factory",
        "webstack_worker:asgi",
    ],
}
DRAINING = ["chaussette with drain", "gunicorn", "uvicorn"]
# How the role turns each server's access log on (django_app_access_log: true): the
# environment it adds and the command line it writes instead.
ACCESS_LOG = {
    "chaussette with drain": ({"WEBSTACK_ACCESS_LOG": "1"}, SERVERS["chaussette with drain"]),
    "chaussette without drain": (
        {"WEBSTACK_ACCESS_LOG": "1"},
        SERVERS["chaussette without drain"],
    ),
    "gunicorn": ({}, [*SERVERS["gunicorn"][:-1], "--access-logfile", "-", "slow_app:application"]),
    "uvicorn": ({}, [arg for arg in SERVERS["uvicorn"] if arg != "--no-access-log"]),
}
REQUEST = b"GET %s HTTP/1.0\r\nHost: test\r\n\r\n"


@contextlib.contextmanager
def running(server, ready_dir=None, access_log=False, output=subprocess.DEVNULL):
    """Yield (worker, port) once the worker has answered a request; the test holds the
    listening socket, as circusd does. The worker's stdout and stderr go to output."""
    with running_several(server, 1, ready_dir, access_log, output) as ([worker], port):
        yield worker, port


@contextlib.contextmanager
def running_several(server, count, ready_dir=None, access_log=False, output=subprocess.DEVNULL):
    """Yield (workers, port): count workers of server on one listening socket, as Circus
    runs a watcher's processes, once they have answered a request."""
    env, command = ACCESS_LOG[server] if access_log else ({}, SERVERS[server])
    with socket.create_server(("127.0.0.1", 0)) as listener:
        fd = str(listener.fileno())
        command = [arg.replace("FD", fd) for arg in command]
        workers = [
            subprocess.Popen(
                [str(BIN / command[0]), *command[1:]],
                cwd=HERE / "workers",
                env=dict(
                    os.environ,
                    PYTHONPATH=f"{HOOKS}:{HERE / 'workers'}",
                    WEBSTACK_READY_DIR=str(ready_dir or ""),
                    WEBSTACK_ASGI_APP="slow_asgi:application",
                    **env,
                ),
                pass_fds=[listener.fileno()],
                stdout=output,
                stderr=output,
            )
            for _worker in range(count)
        ]
        port = listener.getsockname()[1]
        try:
            assert status(get(port, "/")) == b"200", f"{server} did not answer"
            yield workers, port
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()


def get(port, path, while_serving=None):
    """GET path; call while_serving() half a second after sending. The raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as client:
        client.sendall(REQUEST % path.encode())
        if while_serving:
            time.sleep(0.5)
            while_serving()
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(4096):
                answer += chunk
    return answer


def status(answer):
    return answer.split(b"\r\n", 1)[0].split(b" ")[1] if answer else None


@pytest.mark.parametrize("server", DRAINING)
def test_request_in_progress_is_answered_then_the_worker_exits(server):
    with running(server) as (worker, port):
        answer = get(port, "/slow", while_serving=lambda: worker.send_signal(signal.SIGTERM))
        assert status(answer) == b"200"
        assert answer.endswith(b"done\n")
        # uvicorn ends by raising the signal again once it has shut down gracefully.
        assert worker.wait(timeout=5) in (0, -signal.SIGTERM)


@pytest.mark.parametrize("server", DRAINING)
def test_idle_worker_exits_promptly(server):
    with running(server) as (worker, _port):
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=3) in (0, -signal.SIGTERM)


def waits_in_accept(worker):
    """Whether the worker is blocked inside accept() (the kernel's wait channel)."""
    return "accept" in pathlib.Path(f"/proc/{worker.pid}/wchan").read_text()


@pytest.mark.parametrize("server", DRAINING)
def test_idle_workers_that_share_the_socket_exit_promptly(server):
    """A connection wakes every worker waiting on the socket and one of them takes it. A
    worker that lost that race must not wait inside accept(), where its drain never runs:
    it would outlive a SIGTERM until Circus kills it at graceful_timeout (surge reloads
    waited 30 s for idle old Chaussette workers). Once the requests have woken them, each
    worker is waiting, not in accept(), and exits as soon as it is asked to."""
    with running_several(server, 2) as (workers, port):
        for _request in range(20):
            assert status(get(port, "/")) == b"200"
            time.sleep(0.05)
            assert not [worker.pid for worker in workers if waits_in_accept(worker)]
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=5) in (0, -signal.SIGTERM)


@pytest.mark.parametrize("server", DRAINING)
def test_a_request_that_arrives_in_pieces_is_answered(server):
    """The connections a worker accepts wait for their bytes, though the listening socket
    does not wait for connections."""
    with running(server) as (_worker, port):
        assert status(get_in_pieces(port)) == b"200"


def get_in_pieces(port):
    """GET / with its headers sent a second apart. The raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as client:
        client.sendall(b"GET / HTTP/1.0\r\n")
        time.sleep(1)
        client.sendall(b"Host: test\r\n\r\n")
        return client.recv(4096)


def test_without_drain_chaussette_loses_the_request():
    """The control: plain Chaussette dies mid-request, so the tests above can fail."""
    with running("chaussette") as (worker, port):
        assert get(port, "/slow", while_serving=lambda: worker.send_signal(signal.SIGTERM)) == b""
        assert worker.wait(timeout=5) == -signal.SIGTERM


@pytest.mark.parametrize("server", ["chaussette without drain", *DRAINING])
def test_worker_announces_it_is_ready_under_the_pid_circus_started(tmp_path, server):
    with running(server, ready_dir=tmp_path) as (worker, _port):
        # The worker has answered, so it has loaded the app: its file is there by now.
        assert sorted(path.name for path in tmp_path.iterdir()) == [str(worker.pid)]


def test_worker_that_cannot_write_its_file_still_serves(tmp_path):
    with running("chaussette with drain", ready_dir=tmp_path / "missing") as (_worker, port):
        assert status(get(port, "/")) == b"200"


@pytest.mark.parametrize("access_log", [False, True], ids=["access log off", "access log on"])
@pytest.mark.parametrize("server", list(ACCESS_LOG))
def test_a_worker_logs_each_request_only_with_the_access_log_on(tmp_path, server, access_log):
    log = tmp_path / "worker.log"
    with (
        log.open("wb") as output,
        running(server, access_log=access_log, output=output) as (
            worker,
            port,
        ),
    ):
        assert status(get(port, "/?marked-request")) == b"200"
        # A worker logs a request once it has answered it: give it time to write the line.
        time.sleep(1)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)
    assert ("marked-request" in log.read_text()) == access_log, log.read_text()


def test_chaussette_keeps_its_error_lines_with_the_access_log_off(tmp_path):
    log = tmp_path / "worker.log"
    with (
        log.open("wb") as output,
        running("chaussette with drain", output=output) as (_worker, port),
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=15) as client:
            # Parsed as HTTP/0.9, so the answer is a page without a status line.
            client.sendall(b"NOT-HTTP\r\n\r\n")
            assert b"Error code: 400" in client.recv(4096)
        assert status(get(port, "/?marked-request")) == b"200"
        time.sleep(1)
    assert "Bad request" in log.read_text()
    assert "marked-request" not in log.read_text()
