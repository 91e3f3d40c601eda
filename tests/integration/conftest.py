"""A real circusd for the integration tests, started fresh for each test, and
ansible-playbook run on this collection."""

import contextlib
import ctypes
import dataclasses
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import psutil
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


# Ports free_port gave in this session. Once a probe is closed, the kernel may give its
# port again: nginx_root's two calls got one port for HTTP and HTTPS (seen in CI).
GIVEN_PORTS = set()


def free_port():
    """A TCP port on 127.0.0.1 that is free now and that no other call gave in this session."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in GIVEN_PORTS:
            GIVEN_PORTS.add(port)
            return port


def aged(path, days):
    """Creates the file (and its directory) if needed, last modified days ago."""
    path.parent.mkdir(exist_ok=True)
    path.touch()
    stamp = time.time() - days * 24 * 60 * 60
    os.utime(path, (stamp, stamp))


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


PR_SET_PDEATHSIG = 1
# Looked up here, not in the forked child, which should run as little as it can.
PRCTL = ctypes.CDLL(None, use_errno=True).prctl


def die_with_the_tests():
    """Run in circusd's process before it starts: SIGTERM when the tests' process dies,
    killed included, so that an interrupted run leaves no circusd behind (on SIGTERM it
    stops its watchers and plugins)."""
    PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_with_its_children(daemon):
    """Stop circusd (SIGTERM, which stops its watchers and plugins), then kill what is
    left of it and of every process it started. Circus starts each one in a session of
    its own (setsid), out of circusd's process group: they are found by parentage before
    circusd goes, or a plugin whose circusd was killed outlives the tests."""
    try:
        children = psutil.Process(daemon.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    daemon.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        daemon.wait(timeout=20)
    # The group lives while any of its processes does, and its id is not reused meanwhile.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(daemon.pid, signal.SIGKILL)
    daemon.wait()
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@contextlib.contextmanager
def circusd_running(ini, endpoint, log, **popen):
    """Yield circusd (a Popen) on ini once it answers on endpoint, its output in the file
    log; stop it afterwards with every process it started. popen: cwd, env."""
    with open(log, "w") as out:
        # A session of its own, apart from the tests' terminal and signals.
        daemon = subprocess.Popen(
            [str(BIN / "circusd"), str(ini)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_the_tests,
            **popen,
        )
    try:
        deadline = time.monotonic() + 30
        while not answers(str(BIN / "circusctl"), endpoint):
            assert daemon.poll() is None, pathlib.Path(log).read_text()
            assert time.monotonic() < deadline, "circusd did not answer within 30 s"
            time.sleep(0.2)
        yield daemon
    finally:
        stop_with_its_children(daemon)


def run_circusd(tmp_path, ini_text):
    """Start circusd on ini_text (formatted with endpoint, tmp and port), yield a Circusd
    once it answers, stop it afterwards."""
    endpoint = f"ipc://{tmp_path}/circusd.sock"
    port = free_port()
    ini = tmp_path / "circus.ini"
    ini.write_text(ini_text.format(endpoint=endpoint, tmp=tmp_path, port=port))
    with circusd_running(ini, endpoint, tmp_path / "circusd.log"):
        yield Circusd(endpoint=endpoint, circusctl=str(BIN / "circusctl"), socket_port=port)


def start_module(module, **args):
    """Start webstack.circus.MODULE once on localhost with ansible's ad-hoc command;
    module_result() gives its result."""
    return subprocess.Popen(
        [
            str(BIN / "ansible"),
            "localhost",
            "-m",
            f"webstack.circus.{module}",
            "-a",
            json.dumps(args),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json"),
    )


def module_result(run):
    stdout = run.communicate(timeout=120)[0]
    return json.loads(stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def run_module(module, **args):
    """Run webstack.circus.MODULE once on localhost; return its result."""
    return module_result(start_module(module, **args))


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


def run_playbook(playbook, *args):
    """ansible-playbook on a playbook path relative to tests/integration (or absolute);
    the finished process, its output captured."""
    return subprocess.run(
        [str(BIN / "ansible-playbook"), str(HERE / playbook), *args],
        capture_output=True,
        text=True,
        env=ansible_env(),
        check=False,
    )


@pytest.fixture
def ansible_playbook():
    """Runs ansible-playbook with a playbook path relative to tests/integration."""
    return run_playbook
