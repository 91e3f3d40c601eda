"""rollback.yml refuses, before it touches any host, a rollback it cannot or should not
do: no release before the current one, a named release that is not there, and
migrations the current release added that going back would leave applied. The hosts
are this machine's releases in a temporary directory; the first play reads them with
app_release and fails, so deploy.yml (which would install the stack) never starts."""

import json
import os
import subprocess

import pytest

from ansible_collections.webstack.circus.plugins.module_utils import releases
from conftest import BIN, HERE, ansible_env

OLD, NEW = "00000000000000aa", "00000000000000bb"


def add_release(home, release, migration_names):
    migrations = home / "releases" / release / "app" / "shop" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "__init__.py").write_text("")
    for name in migration_names:
        (migrations / f"{name}.py").write_text("")


def deployed(home, *history):
    for release in history:
        releases.switch_current(home, release)
    releases.write_state(home, {"history": list(history), "loaded": f"{history[-1]}+w"})


def rollback(home, *extra):
    inventory = home.parent / "inventory.json"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {"localhost": {"ansible_connection": "local"}},
                    "children": {"app": {"hosts": {"localhost": {}}}},
                    "vars": {
                        "ansible_python_interpreter": os.environ.get("PYTHON", str(BIN / "python")),
                        "ansible_become": False,
                        "django_app_name": "shop",
                        "django_app_home": str(home),
                    },
                }
            }
        )
    )
    return subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            str(HERE.parents[1] / "rollback.yml"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=ansible_env(),
        check=False,
    )


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "shop"
    path.mkdir()
    return path


def refused(result):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # The first play stopped: the play of deploy.yml never started.
    assert "Roll out the apps" not in output, output
    return output


def test_no_release_before_the_current_one(home):
    add_release(home, OLD, ["0001_initial"])
    deployed(home, OLD)
    output = refused(rollback(home))
    assert f"has no release to roll back to: no release was current before {OLD}" in output


def test_a_named_release_that_is_not_there(home):
    add_release(home, OLD, ["0001_initial"])
    add_release(home, NEW, ["0001_initial"])
    deployed(home, OLD, NEW)
    output = refused(rollback(home, "-e", "rollback_release=00000000000000cc"))
    assert "rollback_release 00000000000000cc is not there" in output


def test_migrations_the_current_release_added(home):
    add_release(home, OLD, ["0001_initial"])
    add_release(home, NEW, ["0001_initial", "0002_price"])
    deployed(home, OLD, NEW)
    output = refused(rollback(home))
    assert "shop/migrations/0002_price" in output
    assert "rollback_past_migrations=true" in output
    # Nothing moved.
    assert releases.current_release(home) == NEW
    assert releases.read_state(home)["history"] == [OLD, NEW]
