"""Run each target playbook against a real circusd; the playbooks hold the assertions."""

import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).parent
COLLECTIONS = HERE.parents[1] / "build" / "collections"


@pytest.mark.parametrize("target", ["circus_watcher", "circus_info"])
def test_target(circusd, target):
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
    )
    result = subprocess.run(
        [
            str(pathlib.Path(sys.executable).parent / "ansible-playbook"),
            str(HERE / "targets" / target / "playbook.yml"),
            "-e",
            f"endpoint={circusd.endpoint}",
            "-e",
            f"circusctl={circusd.circusctl}",
            "-e",
            f"socket_port={circusd.socket_port}",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
