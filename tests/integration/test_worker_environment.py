"""The environment of the app's workers and of manage.py, through the role's launcher
(roles/django_app/files/webstack_run.py) and a real circusd: values Circus would rewrite
in an [env:…] section reach the worker byte for byte, as they reach a command Ansible
runs as root for the app's user. A watcher that gets the same values from Circus's own
[env:…] section is the control: it shows the comparison can fail."""

import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

from conftest import run_circusd

PROJECT = pathlib.Path(__file__).parents[2]
LAUNCHER = PROJECT / "roles" / "django_app" / "files" / "webstack_run.py"
# What circusd 0.19 rewrites: $$, $NAME, " ;" comments, surrounding spaces, quotes, and
# what an .ini file cannot hold at all: a newline.
VALUES = {
    "DOLLARS": "pa$$WORD",
    "EXPANDED": "k3y$HOME-x",
    "COMMENT": "a ;b",
    "SPACES": "  padded  ",
    "QUOTES": '""',
    "MULTILINE": "-----BEGIN KEY-----\nabc\n-----END KEY-----",
}
DUMP = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
# Python itself adds LC_CTYPE when it starts in the C locale (PEP 538).
COERCED = {"LC_CTYPE"}


def launcher(env_file, *command, user=None, extra=None):
    options = [str(env_file)] + (["--env-file", str(extra)] if extra else [])
    options += ["--user", user] if user else []
    return [sys.executable, "-I", str(LAUNCHER), *options, "--", *command]


def circus_env_section(values):
    return "\n".join(f"{name} = {value}" for name, value in values.items() if "\n" not in value)


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / "environment.json"
    path.write_text(json.dumps(VALUES))
    return path


@pytest.fixture
def workers(tmp_path, env_file):
    """circusd with one watcher started through the launcher and one given the values in
    its [env:…] section; each dumps its environment into a file."""
    command = " ".join(
        launcher(env_file, sys.executable, "-c", f'"{DUMP}"', f"{tmp_path}/launched.json")
    )
    ini = f"""\
[circus]
endpoint = {{endpoint}}
pubsub_endpoint = ipc://{{tmp}}/pubsub.sock
multicast_endpoint =
statsd = False

[watcher:launched]
cmd = {command} ; sleep 3600
shell = True
numprocesses = 1

[watcher:control]
cmd = {sys.executable} -c "{DUMP}" {{tmp}}/control.json ; sleep 3600
shell = True
numprocesses = 1
copy_env = False

[env:control]
{circus_env_section(VALUES)}
"""
    yield from run_circusd(tmp_path, ini)


def read_dump(path):
    deadline = time.monotonic() + 30
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.2)
    time.sleep(0.2)
    return json.loads(path.read_text())


def test_workers_get_every_value_intact_where_circus_rewrites_them(tmp_path, workers):
    launched = read_dump(tmp_path / "launched.json")
    assert {name: launched.get(name) for name in VALUES} == VALUES
    # Only the file's variables: nothing of circusd's own environment.
    assert set(launched) - COERCED == set(VALUES)
    control = read_dump(tmp_path / "control.json")
    rewritten = {
        name for name in VALUES if "\n" not in VALUES[name] and control.get(name) != VALUES[name]
    }
    assert rewritten >= {"DOLLARS", "EXPANDED", "COMMENT", "SPACES"}, control


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
def test_manage_commands_run_as_the_app_user_with_the_same_values(tmp_path, env_file):
    os.chmod(tmp_path, 0o755)
    script = "import json, os, sys; json.dump([os.getuid(), dict(os.environ)], sys.stdout)"
    result = subprocess.run(
        launcher(env_file, "/usr/bin/python3", "-c", script, user="nobody"),
        capture_output=True,
        text=True,
        check=True,
    )
    uid, environment = json.loads(result.stdout)
    assert uid != 0
    assert {name: value for name, value in environment.items() if name not in COERCED} == VALUES


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
def test_a_command_s_own_values_are_read_as_root_and_override(tmp_path, env_file):
    """webstack.circus.manage's manage_env: a file only root reads, read before the
    process becomes the app's user, its values over the app's."""
    os.chmod(tmp_path, 0o755)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"SPACES": "replaced", "DJANGO_SUPERUSER_PASSWORD": "p w"}))
    extra.chmod(0o600)
    script = "import json, os, sys; json.dump(dict(os.environ), sys.stdout)"
    result = subprocess.run(
        launcher(env_file, "/usr/bin/python3", "-c", script, user="nobody", extra=extra),
        capture_output=True,
        text=True,
        check=True,
    )
    environment = {k: v for k, v in json.loads(result.stdout).items() if k not in COERCED}
    assert environment == dict(VALUES, SPACES="replaced", DJANGO_SUPERUSER_PASSWORD="p w")


@pytest.mark.parametrize(
    "options",
    [["--env-file"], ["--user", "a", "--user", "b"], ["--other", "x"]],
)
def test_options_it_does_not_know_are_refused(env_file, options):
    command = [sys.executable, "-I", str(LAUNCHER), str(env_file), *options, "--", "/bin/true"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "usage: webstack_run.py" in result.stderr


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PORT": 8000}, "must hold a JSON object of strings"),
        # manage_env is a dict of any names: os.environ would raise a ValueError.
        ({"A=B": "x"}, "an environment name must be non-empty, without '=' or NUL"),
        ({"": "x"}, "an environment name must be non-empty"),
        ({"A": "x\u0000y"}, "and a value without NUL: 'A'"),
    ],
)
def test_a_file_that_is_not_an_object_of_strings_is_refused(tmp_path, values, expected):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(values))
    result = subprocess.run(launcher(bad, "/bin/true"), capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ".:/srv/shop/lib"),
        ({"PYTHONPATH": "/opt/shared"}, ".:/srv/shop/lib:/opt/shared"),
    ],
)
def test_a_pythonpath_of_the_app_comes_after_the_roles(tmp_path, ansible_playbook, given, expected):
    """The release's code and the role's worker hook stay first: a PYTHONPATH of
    django_app_env is appended, not put in their place."""
    extra, out = tmp_path / "vars.json", tmp_path / "environment.json"
    extra.write_text(
        json.dumps(
            {
                "django_app_name": "shop",
                "django_app_settings_module": "shop.settings",
                "django_app_env": dict(given, SHOP_MODE="live"),
                "django_app_secret_env": {"DJANGO_SECRET_KEY": "s"},
                "environment_out": str(out),
            }
        )
    )
    run = ansible_playbook("roles/django_app_environment.yml", "-e", "@" + str(extra))
    assert run.returncode == 0, run.stdout + run.stderr
    shown = json.loads(out.read_text())
    assert shown["PYTHONPATH"] == expected
    assert (shown["SHOP_MODE"], shown["DJANGO_SECRET_KEY"]) == ("live", "s")


@pytest.mark.parametrize(
    ("project_dir", "expected"),
    [("", "../static"), ("site", "../../static"), ("a/b", "../../../static")],
)
def test_static_files_are_collected_into_the_release_from_any_project_directory(
    tmp_path, ansible_playbook, project_dir, expected
):
    """DJANGO_STATIC_ROOT is relative to the working directory, the project's: it names
    the release's static/ however deep django_app_project_dir is."""
    extra, out = tmp_path / "vars.json", tmp_path / "environment.json"
    extra.write_text(
        json.dumps(
            {
                "django_app_name": "shop",
                "django_app_settings_module": "shop.settings",
                "django_app_project_dir": project_dir,
                "django_app_secret_env": {"DJANGO_SECRET_KEY": "s"},
                "environment_out": str(out),
            }
        )
    )
    run = ansible_playbook("roles/django_app_environment.yml", "-e", "@" + str(extra))
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(out.read_text())["DJANGO_STATIC_ROOT"] == expected


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["A=B", "OK"], "names given: A=B, OK"),
        # '$' would let a trailing newline through.
        (["OK", "B\n"], "names given: OK, B"),
    ],
)
def test_manage_refuses_a_value_name_before_it_reaches_the_host(
    tmp_path, ansible_playbook, names, shown
):
    """webstack.circus.manage with a manage_env name that is not an identifier: refused
    by its first task, on the controller, naming the names given."""
    inventory = tmp_path / "inventory"
    inventory.write_text(
        f"[app]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    manage_env = dict.fromkeys(names, "x")
    extra = {"django_app_name": "shop", "manage": ["check"], "manage_env": manage_env}
    run = ansible_playbook(
        str(PROJECT / "playbooks" / "manage.yml"), "-i", str(inventory), "-e", json.dumps(extra)
    )
    assert run.returncode != 0
    assert "manage_env) names must be identifiers" in run.stdout
    assert shown in run.stdout
    # Nothing ran after the check: the playbook's check, the include and the entry point's
    # argument spec passed, the role's first task failed.
    assert re.search(r"localhost +: ok=3 +changed=0 +unreachable=0 +failed=1 ", run.stdout)
