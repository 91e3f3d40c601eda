"""The status page's server (nginx_proxy_status), written by the role's own tasks and
served by a real nginx in front of the circus role's real circus-status program."""

import base64
import os
import pathlib
import stat
import subprocess
import sys
import time

import pytest
from nginx_harness import get, nginx_root, serving

from conftest import free_port

PROGRAM = (
    pathlib.Path(__file__).resolve().parents[2] / "roles" / "circus" / "files" / "circus_status.py"
)
USERS = [{"name": "viewer", "password": "viewer-password"}]


@pytest.fixture
def root():
    with nginx_root() as path:
        yield path


@pytest.fixture
def status_socket(root):
    """circus-status on a unix socket nginx's workers reach; circusd is not needed for
    the page itself."""
    path = root.path / "status.sock"
    service = subprocess.Popen(
        [sys.executable, str(PROGRAM), "--endpoint", "ipc:///nonexistent", "--socket", str(path)],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not path.exists():
            assert service.poll() is None and time.monotonic() < deadline, (
                "circus-status did not start"
            )
            time.sleep(0.05)
        path.chmod(0o666)
        yield path
    finally:
        service.terminate()
        service.wait(timeout=10)


def configure(root, **variables):
    return root.configure(nginx_proxy_status=True, **variables)


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_the_default_listen_is_the_loopback_address_without_users(root):
    result = configure(root)
    assert result.returncode == 0, result.stdout + result.stderr
    site = (root.enabled / "webstack-status.conf").read_text()
    assert "    listen 127.0.0.1:8081;\n" in site
    assert "auth_basic" not in site
    assert not (root.etc / "webstack-status.htpasswd").exists()


@pytest.mark.parametrize("listen", ["0.0.0.0:8081", "10.1.2.3:8081", "[::]:8081"])
def test_a_wider_listen_without_users_is_refused_before_anything_changes(root, listen):
    result = configure(root, nginx_proxy_status_listen=listen)
    assert result.returncode != 0
    assert f'nginx_proxy_status_listen "{listen}" is not a loopback address' in result.stdout
    assert not (root.available / "webstack-status.conf").exists()


def test_users_get_in_with_their_password_only(root, status_socket):
    port = free_port()
    result = configure(
        root,
        nginx_proxy_status_listen=f"127.0.0.1:{port}",
        nginx_proxy_status_users=USERS,
        nginx_proxy_status_socket=str(status_socket),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "viewer-password" not in result.stdout
    htpasswd = root.etc / "webstack-status.htpasswd"
    mode = htpasswd.stat()
    assert (stat.S_IMODE(mode.st_mode), mode.st_uid) == (0o640, 0)
    assert htpasswd.group() == "www-data"
    assert htpasswd.read_text().startswith("viewer:$6$")
    with serving(root, port):
        assert get(port, "/").status == 401
        assert get(port, "/", headers=basic("viewer", "wrong-password")).status == 401
        assert get(port, "/", headers=basic("nobody", "viewer-password")).status == 401
        page = get(port, "/", headers=basic("viewer", "viewer-password"))
        assert page.status == 200
        assert b"<title>Circus status</title>" in page.body
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    # The same password gives the same file: a second run changes nothing.
    again = configure(
        root,
        nginx_proxy_status_listen=f"127.0.0.1:{port}",
        nginx_proxy_status_users=USERS,
        nginx_proxy_status_socket=str(status_socket),
    )
    assert "changed=0" in again.stdout, again.stdout


def test_turning_the_page_off_removes_its_files(root):
    configure(root, nginx_proxy_status_users=USERS)
    result = root.configure(nginx_proxy_status=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not os.path.lexists(root.enabled / "webstack-status.conf")
    assert not (root.etc / "webstack-status.htpasswd").exists()
