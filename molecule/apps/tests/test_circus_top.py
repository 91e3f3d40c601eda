"""circus-top on the deployed host: circusd-stats on an ipc:// socket in circusd's runtime
directory, which root and circus_admin_group reach and nobody else."""

import re

import pytest
from helpers import circus_variables, circusctl

ADMIN = "top-admin"
OUTSIDER = "top-outsider"
# Cursor moves, colours and character set switches: a space keeps the cells apart.
ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\([A-Z0-9]|[=>])")


@pytest.fixture(scope="module")
def users(host):
    """A member of circus_admin_group and a user who is not."""
    group = circus_variables(host)["circus_admin_group"]
    for name, groups in ((ADMIN, ["--groups", group]), (OUTSIDER, [])):
        if host.run("id %s", name).rc != 0:
            host.check_output("useradd --system --no-create-home " + " ".join(groups) + " %s", name)
    return ADMIN, OUTSIDER


def circus_top_screen(host, user, seconds=8):
    """What circus-top shows a user after some seconds in a terminal (a pty from script)."""
    variables = circus_variables(host)
    command = (
        f"{variables['circus_venv']}/bin/circus-top --endpoint {variables['circus_stats_endpoint']}"
    )
    result = host.run(
        "runuser -u %s -- env TERM=xterm timeout %s script -qfec %s /dev/null",
        user,
        str(seconds),
        command,
    )
    assert result.rc == 124, f"circus-top ended early: {result.stdout!r} {result.stderr!r}"
    return ESCAPE.sub(" ", result.stdout)


def demo_pids(host):
    return host.check_output(circusctl(host) + " list demo").split(",")


def test_stats_socket_is_the_admin_groups(host):
    variables = circus_variables(host)
    socket = host.file(variables["circus_stats_endpoint"].removeprefix("ipc://"))
    run_dir = host.file(variables["circus_run_dir"])
    assert socket.is_socket
    # circusd's umask 002: the group may connect (write); the directory keeps others out.
    assert socket.group == variables["circus_admin_group"]
    assert socket.mode & 0o060 == 0o060
    group = variables["circus_admin_group"]
    assert (run_dir.user, run_dir.group, run_dir.mode) == ("root", group, 0o750)


def test_circus_top_shows_the_apps_processes_to_an_admin(host, users):
    screen = circus_top_screen(host, users[0])
    assert "Circus Top" in screen
    assert re.search(r"(^|\s)demo\s", screen), screen
    for pid in demo_pids(host):
        assert re.search(rf"(^|\s){pid}\s", screen), f"pid {pid} of demo not shown: {screen}"


def test_circus_top_shows_nothing_to_others(host, users):
    variables = circus_variables(host)
    stats_socket = variables["circus_stats_endpoint"].removeprefix("ipc://")
    assert host.run("runuser -u %s -- test -w %s", users[0], stats_socket).rc == 0
    assert host.run("runuser -u %s -- test -w %s", users[1], stats_socket).rc != 0
    screen = circus_top_screen(host, users[1], seconds=5)
    assert "Waiting for data" in screen
    for pid in demo_pids(host):
        assert not re.search(rf"(^|\s){pid}\s", screen), screen
