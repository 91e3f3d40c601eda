"""The rules that decide, from a host's recorded state alone, which release is
previous, which releases are pruned and which migrations a rollback would strand."""

import os

import pytest

from ansible_collections.webstack.circus.plugins.module_utils import releases

A, B, C, D, E, F = (f"{n:016x}" for n in range(0xA, 0x10))


def make_release(home, release, venv="v1"):
    path = home / "releases" / release
    (path / "app").mkdir(parents=True)
    (home / "venvs" / venv).mkdir(parents=True, exist_ok=True)
    os.symlink(home / "venvs" / venv, path / "venv")
    return path


def test_release_ids_are_16_hex_digits():
    assert releases.RELEASE_ID.match(A)
    for bad in ("", A.upper(), A[:-1], A + "0", f"{A}.partial", "../" + A[3:]):
        assert not releases.RELEASE_ID.match(bad), bad


def test_previous_is_the_release_current_before_the_current_one():
    assert releases.previous_release([A, B, C], C, {A, B, C}) == B
    # A rollback made B current again: the one before it in history is A.
    assert releases.previous_release([A, C, B], B, {A, B, C}) == C
    assert releases.previous_release([A, B, C], C, {A, C}) == A
    assert releases.previous_release([C], C, {C}) == ""
    assert releases.previous_release([], "", set()) == ""


def test_with_current_moves_a_release_to_the_end_once():
    assert releases.with_current([A, B, C], B) == [A, C, B]
    assert releases.with_current([A], D) == [A, D]


def test_prune_keeps_the_newest_by_when_they_became_current():
    history = [A, B, C, D, E, F]
    present = set(history)
    assert releases.prune_plan(history, present, 5, {F, E}) == [A]
    assert releases.prune_plan(history, present, 2, {F, E}) == [A, B, C, D]


def test_prune_never_deletes_the_current_or_the_previous_release():
    # After a rollback to B, B is current and F the one before it.
    history = [A, C, D, E, F, B]
    assert releases.prune_plan(history, set(history), 2, {B, F}) == [A, C, D, E]
    # Protected releases survive even when older than `keep` (history lost, say).
    assert releases.prune_plan([C, D, E], {A, C, D, E}, 2, {A}) == [C]


def test_releases_built_but_never_current_are_the_oldest():
    assert releases.ordered([B, C], {A, B, C}) == [A, B, C]
    assert releases.prune_plan([B, C], {A, B, C}, 2, {C, B}) == [A]


@pytest.mark.parametrize("keep", [1, 0, -3])
def test_prune_refuses_to_keep_fewer_than_two(keep):
    with pytest.raises(ValueError, match="keep must be 2 or more"):
        releases.prune_plan([A, B], {A, B}, keep, set())


def test_state_round_trip_and_default(tmp_path):
    assert releases.read_state(tmp_path) == {"history": [], "loaded": ""}
    releases.write_state(tmp_path, {"history": [A, B], "loaded": f"{B}+w"})
    assert releases.read_state(tmp_path) == {"history": [A, B], "loaded": f"{B}+w"}
    assert [p.name for p in tmp_path.iterdir()] == [releases.STATE_FILE]
    # Its "loaded" carries a hash of the environment: root's only.
    assert (tmp_path / releases.STATE_FILE).stat().st_mode & 0o777 == 0o600


def test_present_releases_skip_partial_builds_and_other_names(tmp_path):
    make_release(tmp_path, A)
    (tmp_path / "releases" / f"{B}.partial").mkdir()
    (tmp_path / "releases" / "notes").mkdir()
    (tmp_path / "releases" / C).write_text("a file, not a release")
    assert releases.present_releases(tmp_path) == {A}


def test_switch_current_replaces_the_link(tmp_path):
    make_release(tmp_path, A)
    make_release(tmp_path, B)
    releases.switch_current(tmp_path, A)
    assert releases.current_release(tmp_path) == A
    releases.switch_current(tmp_path, B)
    assert os.readlink(tmp_path / "current") == f"releases/{B}"
    assert (tmp_path / "current" / "app").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "releases", "venvs"]


def test_remove_releases_drops_the_venvs_no_release_uses(tmp_path):
    make_release(tmp_path, A, venv="old")
    make_release(tmp_path, B, venv="new")
    make_release(tmp_path, C, venv="new")
    (tmp_path / "venvs" / "interrupted").mkdir()
    assert releases.remove_releases(tmp_path, [A]) == ["interrupted", "old"]
    assert releases.present_releases(tmp_path) == {B, C}
    assert sorted(p.name for p in (tmp_path / "venvs").iterdir()) == ["new"]


def test_migrations_lost_by_going_back(tmp_path):
    old = tmp_path / "old"
    new = tmp_path / "new"
    for tree, names in ((old, ["0001_initial.py"]), (new, ["0001_initial.py", "0002_more.py"])):
        migrations = tree / "shop" / "migrations"
        migrations.mkdir(parents=True)
        (migrations / "__init__.py").write_text("")
        for name in names:
            (migrations / name).write_text("")
    # Not migrations: a helper module, and a directory without __init__.py.
    (new / "shop" / "migrations" / "helpers.py").write_text("")
    (new / "docs" / "migrations").mkdir(parents=True)
    (new / "docs" / "migrations" / "0003_notes.py").write_text("")
    assert releases.migrations(new) == {"shop/migrations/0001_initial", "shop/migrations/0002_more"}
    assert releases.migrations_lost_by_going_back(new, old) == ["shop/migrations/0002_more"]
    assert releases.migrations_lost_by_going_back(old, new) == []
