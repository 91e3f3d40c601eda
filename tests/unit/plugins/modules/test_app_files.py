"""app_files: which files are written, created and removed, and a write replaces the
file whole, root's, with the mode asked."""

import os

from ansible_collections.webstack.circus.plugins.modules.app_files import plan, state_of, write

A, B, C = "/etc/circus/conf.d/shop.ini", "/etc/circus/conf.d/shop-worker.ini", "/x/shop-old.ini"


def test_plan_writes_what_differs_and_removes_what_is_unlisted():
    files = {A: "a\n", B: "b\n"}
    states = {A: (b"a\n", 0o644, 0, 0), B: None}
    assert plan(files, [B, C], states, 0o644) == ([B], [B], [C])


def test_plan_writes_a_file_whose_mode_or_owner_is_not_as_wanted():
    files = {A: "a\n"}
    assert plan(files, [], {A: (b"a\n", 0o666, 0, 0)}, 0o644) == ([A], [], [])
    assert plan(files, [], {A: (b"a\n", 0o644, 1000, 0)}, 0o644) == ([A], [], [])
    assert plan(files, [], {A: (b"a\n", 0o644, 0, 0)}, 0o644) == ([], [], [])


def test_write_replaces_the_file_root_owned_with_the_mode(tmp_path):
    path = tmp_path / "shop.ini"
    path.write_text("old")
    path.chmod(0o600)
    before = path.stat().st_ino
    write(str(path), b"new\n", 0o644)
    assert state_of(str(path)) == (b"new\n", 0o644, 0, 0)
    # A new file renamed over the old one: a reader has the old one or the new one.
    assert path.stat().st_ino != before
    assert os.listdir(tmp_path) == ["shop.ini"]


def test_state_of_a_missing_file_is_none(tmp_path):
    assert state_of(str(tmp_path / "missing.ini")) is None
