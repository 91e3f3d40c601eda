"""A real circusd for the integration tests, started fresh for each test, and
ansible-playbook run on this collection."""

import dataclasses
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

BIN = pathlib.Path(sys.executable).parent
HERE = pathlib.Path(__file__).parent
COLLECTIONS = HERE.parents[1] / "build" / "collections"
# circusd's own section, for a test's circusd on its own sockets in {tmp}.
CIRCUS_HEADER = """\
[circus]
endpoint = {endpoint}
pubsub_endpoint = ipc://{tmp}/pubsub.sock
multicast_endpoint =
statsd = False
check_delay = 1
"""
CIRCUS_INI = (
    CIRCUS_HEADER
    + """
[watcher:sleeper]
cmd = sleep 100000
numprocesses = 2
graceful_timeout = 2

[watcher:other]
cmd = sleep 100000
numprocesses = 1

[socket:web]
host = 127.0.0.1
port = {port}
"""
)


@dataclasses.dataclass
class Circusd:
    endpoint: str
    circusctl: str
    socket_port: int


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(circusctl, endpoint):
    result = subprocess.run(
        [circusctl, "--endpoint", endpoint, "--timeout", "2", "--json", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and json.loads(result.stdout).get("status") == "ok"


@pytest.fixture
def port():
    """A TCP port on 127.0.0.1 that is free now."""
    return free_port()


def run_circusd(tmp_path, ini_text):
    """Start circusd on ini_text (formatted with endpoint, tmp and port), yield a Circusd
    once it answers, stop it afterwards."""
    endpoint = f"ipc://{tmp_path}/circusd.sock"
    circusctl = str(BIN / "circusctl")
    port = free_port()
    ini = tmp_path / "circus.ini"
    ini.write_text(ini_text.format(endpoint=endpoint, tmp=tmp_path, port=port))
    with open(tmp_path / "circusd.log", "w") as log:
        daemon = subprocess.Popen(
            [str(BIN / "circusd"), str(ini)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not answers(circusctl, endpoint):
            assert daemon.poll() is None, (tmp_path / "circusd.log").read_text()
            assert time.monotonic() < deadline, "circusd did not answer within 30 s"
            time.sleep(0.2)
        yield Circusd(endpoint=endpoint, circusctl=circusctl, socket_port=port)
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


@pytest.fixture
def circusd(tmp_path):
    yield from run_circusd(tmp_path, CIRCUS_INI)


def ansible_env(**settings):
    """The environment for ansible commands on this collection, with more settings."""
    return dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        **settings,
    )


@pytest.fixture
def ansible_playbook():
    """Runs ansible-playbook with a playbook path relative to tests/integration."""

    def run(playbook, *args):
        return subprocess.run(
            [str(BIN / "ansible-playbook"), str(HERE / playbook), *args],
            capture_output=True,
            text=True,
            env=ansible_env(),
            check=False,
        )

    return run
