"""webstack.circus.app_archive packs on the controller, in Ansible's own process: the
task's host is never reached, not even to run a module on the controller."""

import json
import os
import pathlib
import subprocess
import tarfile
import time

from conftest import BIN, aged, ansible_env

DEMO = pathlib.Path(__file__).parents[2] / "demo"
PLAYBOOK = """
- name: Pack the demo for a host that cannot be reached
  hosts: unreachable
  gather_facts: false
  tasks:
    - name: Pack
      webstack.circus.app_archive:
        src: {src}
        dest: {dest}
      run_once: true
      register: packed
      check_mode: {check_mode}
"""
# An SSH port nothing listens on: any connection to the host fails the task.
INVENTORY = """
all:
  hosts:
    unreachable:
      ansible_connection: ssh
      ansible_host: 127.0.0.1
      ansible_port: 9
"""


def pack(tmp_path, check_mode=False):
    """The task's result, from ansible-playbook's JSON output."""
    playbook = tmp_path / "pack.yml"
    inventory = tmp_path / "hosts.yml"
    playbook.write_text(
        PLAYBOOK.format(src=DEMO, dest=tmp_path / "archives", check_mode=str(check_mode).lower())
    )
    inventory.write_text(INVENTORY)
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)],
        capture_output=True,
        text=True,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["unreachable"]


def test_the_source_is_packed_without_reaching_the_host(tmp_path):
    packed = pack(tmp_path)
    assert packed["changed"] is True
    assert packed["kind"] in ("git", "directory")
    assert "manage.py" in packed["files"]
    with tarfile.open(packed["archive"]) as archive:
        assert "manage.py" in archive.getnames()
    assert pathlib.Path(packed["archive"]).name == packed["tree"][:16] + ".tar.gz"
    again = pack(tmp_path)
    assert (again["changed"], again["tree"]) == (False, packed["tree"])


def test_check_mode_names_the_release_and_writes_nothing(tmp_path):
    packed = pack(tmp_path, check_mode=True)
    assert packed["changed"] is True
    assert len(packed["tree"]) == 64
    assert not (tmp_path / "archives").exists()


def test_archives_no_run_used_for_30_days_are_removed_and_the_used_one_is_kept(tmp_path):
    archives = tmp_path / "archives"
    stale = ["0123456789abcdef.tar.gz", "static-0123456789abcdef-app1.tar.gz"]
    for name in stale:
        aged(archives / name, 31)
    aged(archives / "fedcba9876543210.tar.gz", 29)
    assert pack(tmp_path, check_mode=True)["removed"] == []
    packed = pack(tmp_path)
    assert packed["removed"] == sorted(stale)
    assert sorted(os.listdir(archives)) == sorted(
        ["fedcba9876543210.tar.gz", pathlib.Path(packed["archive"]).name]
    )
    # Reused 40 days after it was packed: it is marked used, not removed.
    aged(pathlib.Path(packed["archive"]), 40)
    again = pack(tmp_path)
    assert (again["changed"], again["removed"]) == (False, [])
    assert time.time() - os.stat(again["archive"]).st_mtime < 600
