"""What the wheelhouse action runs on the host: the probe, and the unpack that replaces
every other wheelhouse, run here on a directory of the test's own."""

import subprocess
import sys
import tarfile

import pytest

from ansible_collections.webstack.circus.plugins.module_utils.wheelhouse import WheelhouseError
from ansible_collections.webstack.circus.plugins.plugin_utils import wheelhouse_host as wheelhouse

KEY = "3f2a9c0d4b1e7a52"


def sh(command):
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)


def test_the_probe_reads_the_platform_and_which_wheelhouses_are_complete(tmp_path):
    (tmp_path / KEY).mkdir()
    (tmp_path / KEY / ".complete").write_text(KEY)
    (tmp_path / "0000000000000000").mkdir()
    found = wheelhouse.read_probe(sh(wheelhouse.probe_command(str(tmp_path))).stdout)
    assert found["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert found["held"] == {KEY: True, "0000000000000000": False}
    assert found["glibc"].startswith("2.")


def test_the_probe_of_a_host_without_the_directory_holds_nothing(tmp_path):
    found = wheelhouse.read_probe(sh(wheelhouse.probe_command(str(tmp_path / "no such"))).stdout)
    assert found["held"] == {}


def test_an_unreadable_probe_is_an_error_that_quotes_it():
    with pytest.raises(WheelhouseError, match="could not be read: 'Python 2'"):
        wheelhouse.read_probe("Python 2")


@pytest.mark.parametrize(
    "held, current",
    [
        ({KEY: True}, True),
        ({}, False),
        ({KEY: False}, False),
        ({KEY: True, "0000000000000000": True}, False),
    ],
)
def test_the_host_is_current_with_this_wheelhouse_complete_and_no_other(held, current):
    assert wheelhouse.host_is_current(held, KEY) is current


def test_the_unpack_replaces_a_partial_copy_and_removes_every_other(tmp_path):
    host = tmp_path / "host wheelhouses"
    (host / KEY).mkdir(parents=True)
    (host / KEY / "stale.whl").write_text("partial")
    (host / "0000000000000000").mkdir()
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    wheel.write_text("wheel")
    archive = tmp_path / "wheels.tar"
    with tarfile.open(archive, "w") as opened:
        opened.add(wheel, arcname=wheel.name)
    sh(wheelhouse.unpack_command(str(host), KEY, str(archive)))
    assert sorted(path.name for path in host.iterdir()) == [KEY]
    assert sorted(path.name for path in (host / KEY).iterdir()) == [".complete", wheel.name]
    assert (host / KEY / ".complete").read_text() == KEY + "\n"
    found = wheelhouse.read_probe(sh(wheelhouse.probe_command(str(host))).stdout)
    assert wheelhouse.host_is_current(found["held"], KEY)


def test_a_failed_unpack_leaves_the_wheelhouse_incomplete(tmp_path):
    host = tmp_path / "host"
    with pytest.raises(subprocess.CalledProcessError):
        sh(wheelhouse.unpack_command(str(host), KEY, str(tmp_path / "missing.tar")))
    assert not (host / KEY / ".complete").exists()


def test_pruning_keeps_only_the_wheelhouse_asked_for(tmp_path):
    for name in (KEY, "0000000000000000", "1111111111111111"):
        (tmp_path / name).mkdir()
    sh(wheelhouse.prune_command(str(tmp_path), KEY))
    assert [path.name for path in tmp_path.iterdir()] == [KEY]
