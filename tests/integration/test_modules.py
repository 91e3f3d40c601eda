"""Run each target playbook against a real circusd; the playbooks hold the assertions."""

import pytest


@pytest.mark.parametrize("target", ["circus_watcher", "circus_info", "run_record"])
def test_target(circusd, ansible_playbook, target):
    result = ansible_playbook(
        f"targets/{target}/playbook.yml",
        "-e",
        f"endpoint={circusd.endpoint}",
        "-e",
        f"circusctl={circusd.circusctl}",
        "-e",
        f"socket_port={circusd.socket_port}",
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
