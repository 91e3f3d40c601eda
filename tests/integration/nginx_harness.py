"""A real nginx configured by the nginx_proxy role's own tasks, in a temporary directory.

The role's preflight and configure tasks run on localhost with the role's private
configuration directory pointed at a copy of this machine's nginx.conf (the Debian one,
with its logs, pid and include directories moved into the copy). The role's handlers
reload nginx through systemd; the playbook stops before them, and `serving` runs nginx
in the foreground on that configuration instead, on free high ports.
"""

import contextlib
import dataclasses
import http.client
import http.server
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from conftest import BIN, HERE, free_port, run_playbook

SYSTEM_NGINX_CONF = pathlib.Path("/etc/nginx/nginx.conf")
SYSTEM_DEFAULT_SITE = pathlib.Path("/etc/nginx/sites-available/default")


@dataclasses.dataclass
class NginxRoot:
    """A configuration directory like /etc/nginx, and where its nginx runs from."""

    path: pathlib.Path
    http_port: int
    https_port: int

    @property
    def etc(self):
        return self.path / "etc"

    @property
    def conf(self):
        return self.etc / "nginx.conf"

    @property
    def available(self):
        return self.etc / "sites-available"

    @property
    def enabled(self):
        return self.etc / "sites-enabled"

    def role_variables(self, **variables):
        """The variables a test run of the role gets: the role's paths moved here."""
        return dict(
            {
                "__nginx_proxy_conf_dir": str(self.etc),
                "__nginx_proxy_check_site": str(self.path / "nginx-proxy-check-site"),
                "__nginx_proxy_maintenance_dir": str(self.path / "maintenance"),
                "nginx_proxy_listen_port": self.http_port,
                "nginx_proxy_tls_port": self.https_port,
            },
            **variables,
        )

    def playbook(self, playbook, *args, **variables):
        """Run a playbook with the role's variables of this root; the CompletedProcess."""
        extra = self.path / "vars.json"
        extra.write_text(json.dumps(self.role_variables(**variables)))
        return run_playbook(playbook, "-e", "@" + str(extra), *args)

    def configure(self, *args, **variables):
        """Run the role's preflight and configure tasks; return the CompletedProcess."""
        return self.playbook("roles/nginx_proxy_configure.yml", *args, **variables)

    def maintenance(self, state, **variables):
        """Run the webstack.circus.maintenance playbook on this root's sites."""
        inventory = self.path / "inventory.json"
        local = {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python")}
        inventory.write_text(
            json.dumps(
                {
                    "all": {
                        "children": {"proxy": {"hosts": {"localhost": local}}},
                        "vars": {"ansible_become": False},
                    }
                }
            )
        )
        playbook = HERE.parents[1] / "playbooks" / "maintenance.yml"
        return self.playbook(
            playbook, "-i", str(inventory), "-e", f"maintenance={state}", **variables
        )

    def check(self):
        """nginx -t on the whole configuration."""
        return subprocess.run(
            ["nginx", "-t", "-q", "-c", str(self.conf)], capture_output=True, text=True, check=False
        )


def moved(text, old, new):
    assert old in text, f"{SYSTEM_NGINX_CONF} no longer holds {old!r}"
    return text.replace(old, new)


@contextlib.contextmanager
def nginx_root():
    """A fresh configuration directory made from the distribution's files. It lives under
    /tmp, readable by nginx's worker user (pytest's tmp_path is not)."""
    assert shutil.which("nginx"), "nginx is not installed: run `make host-packages`"
    path = pathlib.Path(tempfile.mkdtemp(prefix="webstack-nginx-", dir="/tmp"))
    path.chmod(0o755)
    root = NginxRoot(path=path, http_port=free_port(), https_port=free_port())
    try:
        for directory in ("sites-available", "sites-enabled", "conf.d"):
            (root.etc / directory).mkdir(parents=True)
        text = SYSTEM_NGINX_CONF.read_text()
        for old, new in [
            ("/etc/nginx/sites-enabled/", f"{root.enabled}/"),
            ("/etc/nginx/conf.d/", f"{root.etc}/conf.d/"),
            ("/run/nginx.pid", f"{path}/nginx.pid"),
            ("/var/log/nginx/error.log", f"{path}/error.log"),
            ("/var/log/nginx/access.log", f"{path}/access.log"),
        ]:
            text = moved(text, old, new)
        root.conf.write_text(text)
        # The distribution's default site, on this test's port.
        default = SYSTEM_DEFAULT_SITE.read_text().replace(" 80 ", f" {root.http_port} ")
        (root.available / "default").write_text(default)
        (root.enabled / "default").symlink_to(root.available / "default")
        yield root
    finally:
        shutil.rmtree(path)


def listening(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def serving(root, *ports):
    """nginx in the foreground on the root's configuration until the block ends."""
    log = open(root.path / "nginx.out", "w")  # noqa: SIM115 (closed in finally)
    daemon = subprocess.Popen(
        ["nginx", "-c", str(root.conf), "-g", "daemon off;"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while not all(listening(port) for port in ports or (root.http_port,)):
            assert daemon.poll() is None, (root.path / "nginx.out").read_text() + (
                root.path / "error.log"
            ).read_text()
            assert time.monotonic() < deadline, "nginx did not listen within 10 s"
            time.sleep(0.05)
        yield daemon
    finally:
        daemon.send_signal(signal.SIGQUIT)
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()


def reload(root):
    """Reload the nginx `serving` runs, as systemctl reload would, and wait for it."""
    pid = int((root.path / "nginx.pid").read_text())
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.5)


class Backend(http.server.ThreadingHTTPServer):
    """An app behind nginx: answers every request with the headers it got, as JSON, and
    its own name; sends `extra_headers` with each answer."""

    def __init__(self, name, extra_headers=()):
        self.name = name
        self.extra_headers = list(extra_headers)
        super().__init__(("127.0.0.1", 0), BackendHandler)

    @property
    def upstream(self):
        return f"127.0.0.1:{self.server_address[1]}"


class BackendHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"app": self.server.name, "headers": dict(self.headers.items())})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in self.server.extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def backend(name="app", extra_headers=()):
    server = Backend(name, extra_headers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclasses.dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


def get(port, path, host="localhost", headers=None, connection=http.client.HTTPConnection, **kw):
    """One request to 127.0.0.1:port with the given Host header."""
    conn = connection("127.0.0.1", port, timeout=10, **kw)
    try:
        conn.request("GET", path, headers=dict({"Host": host}, **(headers or {})))
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()
