"""WebSockets through the whole stack, as the roles deploy an ASGI app: the demo's echo
(demo/mysite/asgi.py) under uvicorn on a real circusd's socket, with the role's worker
hook, behind nginx configured by the nginx_proxy role. Connections held open while the
workers surge-reload are closed cleanly by their old worker (close code 1012, "service
restart"), new ones reach the new workers, and no HTTP request fails meanwhile."""

import contextlib
import threading

import pytest
from nginx_harness import get, nginx_root, serving
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import BIN, CIRCUS_HEADER, HERE, run_circusd, run_module

DEMO = HERE.parents[1] / "demo"
HOOKS = HERE.parents[1] / "roles" / "django_app" / "files"
# The watcher as the django_app role writes it for django_app_server: uvicorn.
UVICORN = (
    f"{BIN}/uvicorn --fd $(circus.sockets.web) --timeout-graceful-shutdown 5 --no-use-colors"
    " --no-access-log --factory webstack_worker:asgi"
)
CIRCUS_INI = (
    CIRCUS_HEADER
    + f"""
[socket:web]
host = 127.0.0.1
port = {{port}}

[watcher:web]
cmd = {UVICORN}
use_sockets = True
numprocesses = 2
graceful_timeout = 6
working_dir = {DEMO}

[env:web]
PYTHONPATH = .:{HOOKS}
DJANGO_SETTINGS_MODULE = mysite.settings
DJANGO_SECRET_KEY = websocket-tests
DJANGO_ALLOWED_HOSTS = *
DJANGO_DB_PATH = {{tmp}}/db.sqlite3
WEBSTACK_ASGI_APP = mysite.asgi:application
WEBSTACK_READY_DIR = {{tmp}}/ready
"""
)


@pytest.fixture
def stack(tmp_path):
    """(circusd, nginx's root) once the app answers through nginx."""
    (tmp_path / "ready").mkdir()
    for circusd in run_circusd(tmp_path, CIRCUS_INI):
        with nginx_root() as root:
            sites = [{"name": "chat", "upstreams": [f"127.0.0.1:{circusd.socket_port}"]}]
            configured = root.configure(nginx_proxy_sites=sites)
            assert configured.returncode == 0, configured.stdout + configured.stderr
            with serving(root):
                yield circusd, root


def echo_connection(root):
    return connect(f"ws://127.0.0.1:{root.http_port}/ws/echo/", open_timeout=20)


def test_websockets_close_cleanly_in_a_surge_reload_and_open_on_the_new_workers(stack, tmp_path):
    circusd, root = stack
    with contextlib.ExitStack() as connections:
        held = [connections.enter_context(echo_connection(root)) for number in range(3)]
        reload_under_load(circusd, root, tmp_path, held)


def reload_under_load(circusd, root, tmp_path, held):
    for number, connection in enumerate(held):
        connection.send(f"hello {number}")
        assert connection.recv(timeout=10) == f"hello {number}"

    failures, answered, stop = [], [], threading.Event()

    def requests():
        while not stop.is_set():
            answer = get(root.http_port, "/ping")
            (answered if answer.status == 200 else failures).append(answer.status)

    load = threading.Thread(target=requests)
    load.start()
    try:
        reloaded = run_module(
            "circus_watcher",
            name="web",
            state="reloaded",
            surge=True,
            ready_dir=str(tmp_path / "ready"),
            endpoint=circusd.endpoint,
            circusctl_path=circusd.circusctl,
        )
    finally:
        stop.set()
        load.join()
    assert reloaded["changed"] and not reloaded.get("failed"), reloaded

    # The old workers said goodbye with a close frame: not a dropped connection (1006).
    for connection in held:
        with pytest.raises(ConnectionClosed) as closed:
            connection.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012, closed.value
    # New connections reach the new workers.
    with echo_connection(root) as fresh:
        fresh.send("again")
        assert fresh.recv(timeout=10) == "again"
    assert answered and not failures, failures
