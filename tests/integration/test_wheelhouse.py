"""The wheelhouse module against the real package index the controller's pip reaches: wheels
for another Python than the controller's, reuse, a clear failure, and an install from the
wheels alone with no index."""

import json
import os
import platform
import subprocess
import sys
import tarfile
import time

import pytest

from conftest import aged, run_playbook

MODULE = "ansible_collections.webstack.circus.plugins.modules.wheelhouse"
# docopt 0.6.2 is published only as source (pure Python): the controller builds its wheel.
SOURCE_ONLY = "docopt==0.6.2"


def wheelhouse(tmp_path, check_mode=False, **options):
    arguments = tmp_path / "arguments.json"
    options.setdefault("dest", str(tmp_path / "wheelhouses"))
    options.setdefault("python", sys.executable)
    if check_mode:
        options["_ansible_check_mode"] = True
    arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": options}))
    result = subprocess.run(
        [sys.executable, "-m", MODULE, str(arguments)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return json.loads(result.stdout)


def wheels(archive):
    with tarfile.open(archive) as opened:
        return sorted(opened.getnames())


def test_wheels_are_for_the_host_s_python_not_the_controller_s(tmp_path):
    # Archives and a lock no run used for 30 days go; a younger archive stays.
    stale = ["0123456789abcdef.lock", "0123456789abcdef.tar"]
    for name in stale:
        aged(tmp_path / "wheelhouses" / name, 31)
    aged(tmp_path / "wheelhouses" / "fedcba9876543210.tar", 29)
    trixie = dict(python_version="3.13", machine="x86_64", glibc="2.41")
    requirements = ["circus==0.19.0", SOURCE_ONLY, "psycopg[binary]==3.3.9"]
    planned = wheelhouse(tmp_path, check_mode=True, requirements=requirements, **trixie)
    assert planned["changed"] is True, planned
    assert not os.path.exists(planned["archive"])
    assert planned["removed"] == [], planned

    built = wheelhouse(tmp_path, requirements=requirements, **trixie)
    assert built["changed"] is True, built
    assert built["archive"] == planned["archive"]
    assert built["removed"] == stale, built
    key = built["key"]
    assert sorted(os.listdir(tmp_path / "wheelhouses")) == [
        f"{key}.lock",
        f"{key}.tar",
        "fedcba9876543210.tar",
    ]
    names = wheels(built["archive"])
    assert any(name.startswith("psycopg_binary-3.3.9-cp313-cp313-manylinux") for name in names), (
        names
    )
    assert "docopt-0.6.2-py2.py3-none-any.whl" in names, names
    assert "circus-0.19.0-py3-none-any.whl" in names, names
    # Every wheel is pure Python, a stable ABI or CPython 3.13's: none for the controller's.
    assert [
        name for name in names if "-cp3" in name and "cp313" not in name and "abi3" not in name
    ] == []

    # Reused 40 days after it was built (its lock as old): marked used, and kept.
    for name in (f"{key}.tar", f"{key}.lock"):
        aged(tmp_path / "wheelhouses" / name, 40)
    again = wheelhouse(tmp_path, requirements=requirements, **trixie)
    assert again["changed"] is False and again["archive"] == built["archive"], again
    assert again["removed"] == [], again
    assert time.time() - os.stat(again["archive"]).st_mtime < 600


def test_a_package_without_a_wheel_for_the_host_s_python_fails_naming_it(tmp_path):
    # psycopg-binary 3.2.2 has wheels for Python 3.11 (the controller's), none for 3.14.
    result = wheelhouse(
        tmp_path,
        requirements=["psycopg-binary==3.2.2"],
        python_version="3.14",
        machine="x86_64",
        glibc="2.41",
    )
    assert result.get("failed") is True, result
    assert "pip download of wheels for Python 3.14" in result["msg"], result
    assert "No matching distribution found for psycopg-binary==3.2.2" in result["msg"], result
    assert not os.path.exists(result["archive"])


@pytest.mark.skipif(not hasattr(os, "confstr"), reason="needs a glibc host")
def test_a_host_installs_from_the_wheels_alone(tmp_path):
    requirements = ["circus==0.19.0", SOURCE_ONLY]
    built = wheelhouse(
        tmp_path,
        requirements=requirements,
        python_version=f"{sys.version_info[0]}.{sys.version_info[1]}",
        machine=platform.machine(),
        glibc=os.confstr("CS_GNU_LIBC_VERSION").split()[1],
    )
    assert built["changed"] is True, built
    house = tmp_path / "house"
    with tarfile.open(built["archive"]) as opened:
        opened.extractall(house, filter="data")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # No index, no pip settings of this machine (its find-links, its local indexes).
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    environment["PIP_CONFIG_FILE"] = os.devnull
    installed = subprocess.run(
        [str(venv / "bin/pip"), "install", "--no-index", "--find-links", str(house), *requirements],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    version = subprocess.run(
        [str(venv / "bin/circusd"), "--version"], capture_output=True, text=True, check=True
    )
    assert "0.19.0" in version.stdout + version.stderr


def ship(tmp_path, *args):
    """The action as the roles run it, on this host: build, read the host, ship, unpack."""
    playbook = tmp_path / "ship.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": sys.executable},
                    "tasks": [
                        {
                            "webstack.circus.wheelhouse": {
                                "dest": str(tmp_path / "wheelhouses"),
                                "requirements": [SOURCE_ONLY],
                                "host_path": str(tmp_path / "host"),
                            },
                            "register": "shipped",
                        },
                        {
                            "ansible.builtin.copy": {
                                "content": "{{ shipped | to_json }}",
                                "dest": str(tmp_path / "shipped.json"),
                            },
                            "check_mode": False,
                        },
                    ],
                }
            ]
        )
    )
    result = run_playbook(str(playbook), "-i", "localhost,", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((tmp_path / "shipped.json").read_text())


def test_the_action_ships_the_wheels_once_and_removes_the_host_s_others(tmp_path):
    (tmp_path / "host" / "0123456789abcdef").mkdir(parents=True)
    planned = ship(tmp_path, "--check")
    assert planned["changed"] is True, planned
    assert sorted(os.listdir(tmp_path / "host")) == ["0123456789abcdef"]

    shipped = ship(tmp_path)
    assert shipped["changed"] is True, shipped
    key = shipped["key"]
    assert shipped["path"] == str(tmp_path / "host" / key)
    assert sorted(os.listdir(tmp_path / "host")) == [key]
    assert sorted(os.listdir(shipped["path"])) == [".complete", "docopt-0.6.2-py2.py3-none-any.whl"]
    # The host's own Python chose the wheels: the probe read this machine.
    glibc = os.confstr("CS_GNU_LIBC_VERSION").split()[1].replace(".", "_")
    assert shipped["platforms"][0] == f"manylinux_{glibc}_{platform.machine()}"

    again = ship(tmp_path)
    assert again["changed"] is False, again
    assert again["path"] == shipped["path"]
