"""role_record: what changes a role's fingerprint and checks, and how a read made by the
preflight stands for the role's own until a role changes the host."""

import os
import stat

from ansible_collections.webstack.circus.plugins.plugin_utils.role_record import (
    RoleRecord,
    controller_key,
    forgotten,
    memory_of,
    remembered,
    reusable_read,
    role_values,
    taken,
    was_checked,
)

KEY = b"k" * 32
VALUES = {"circus_numprocesses": 2, "circus_pip_index_url": "https://user:secret@pypi/simple"}
SECRETS = ["circus_pip_index_url"]


def role(tmp_path):
    """A role directory in a collection, with a task file and a plugin."""
    path = tmp_path / "roles" / "circus"
    (path / "tasks").mkdir(parents=True)
    (path / "tasks" / "main.yml").write_text("---\n")
    (tmp_path / "plugins" / "modules").mkdir(parents=True)
    (tmp_path / "plugins" / "modules" / "circus_watcher.py").write_text("# module\n")
    return path


def test_the_fingerprint_follows_values_code_and_release_but_not_secrets(tmp_path):
    path = role(tmp_path)
    base = RoleRecord(path, VALUES, SECRETS, "bookworm", KEY)
    assert "secret" not in base.fingerprint
    assert base.secrets == {"circus_pip_index_url": VALUES["circus_pip_index_url"]}
    other_secret = dict(VALUES, circus_pip_index_url="https://user:other@pypi/simple")
    assert RoleRecord(path, other_secret, SECRETS, "bookworm", KEY).fingerprint == base.fingerprint
    changed = {
        RoleRecord(path, dict(VALUES, circus_numprocesses=3), SECRETS, "bookworm", KEY).fingerprint,
        RoleRecord(path, VALUES, SECRETS, "trixie", KEY).fingerprint,
    }
    (tmp_path / "plugins" / "modules" / "circus_watcher.py").write_text("# changed\n")
    changed.add(RoleRecord(path, VALUES, SECRETS, "bookworm", KEY).fingerprint)
    (path / "tasks" / "main.yml").write_text("---\n# changed\n")
    changed.add(RoleRecord(path, VALUES, SECRETS, "bookworm", KEY).fingerprint)
    assert base.fingerprint not in changed and len(changed) == 4


def test_checks_follow_values_and_secrets_keyed_by_the_controller(tmp_path):
    path = role(tmp_path)
    base = RoleRecord(path, VALUES, SECRETS, "bookworm", KEY).checks
    other_secret = dict(VALUES, circus_pip_index_url="https://user:other@pypi/simple")
    assert RoleRecord(path, other_secret, SECRETS, "bookworm", KEY).checks != base
    assert RoleRecord(path, VALUES, SECRETS, "bookworm", b"x" * 32).checks != base
    assert RoleRecord(path, VALUES, SECRETS, "bookworm", KEY).checks == base


def test_the_controller_key_is_made_once_for_its_owner_only(tmp_path):
    path = tmp_path / "cache" / "record-key"
    key = controller_key(str(path))
    assert len(key) == 32 and controller_key(str(path)) == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


CONVERGED = {"converged": True, "units": {"circusd": {"load": "loaded"}}}
UNCONVERGED = {"converged": False, "reasons": ["the fingerprint differs"]}
A, B = "/var/lib/webstack/records/circus.json", "/var/lib/webstack/records/nginx_proxy.json"


def test_a_preflight_read_stands_for_the_role_s_own_read_once():
    memory = remembered(memory_of(None), A, "c1", CONVERGED)
    assert was_checked(memory, A, "c1") and not was_checked(memory, A, "c2")
    assert reusable_read(memory, A, "c1") == CONVERGED
    # Not for other values or secrets.
    assert reusable_read(memory, A, "c2") is None
    # Taken once.
    memory = taken(memory, A, CONVERGED)
    assert reusable_read(memory, A, "c1") is None
    assert was_checked(memory, A, "c1")


def test_a_role_that_will_change_the_host_forgets_every_read():
    memory = remembered(remembered(memory_of(None), A, "c1", UNCONVERGED), B, "c2", CONVERGED)
    assert reusable_read(memory, A, "c1") is None
    memory = taken(memory, A, UNCONVERGED)
    assert reusable_read(memory, B, "c2") is None
    # What was checked stays checked.
    assert was_checked(memory, B, "c2")


def test_forgetting_keeps_what_was_checked():
    memory = forgotten(remembered(memory_of(None), B, "c2", CONVERGED))
    assert reusable_read(memory, B, "c2") is None and was_checked(memory, B, "c2")


def test_role_values_are_the_roles_variables_rendered():
    task_vars = {"circus_venv": "{{ base }}/circus", "circusd_x": 1, "django_app_name": "shop"}
    rendered = role_values(
        lambda value: str(value).replace("{{ base }}", "/opt"), task_vars, "circus"
    )
    assert rendered == {"circus_venv": "/opt/circus"}
