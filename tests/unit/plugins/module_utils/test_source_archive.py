"""What a source directory ships, and the hash that names a release (source_archive, which
the app_archive action and module share)."""

import subprocess
import tarfile

import pytest

from ansible_collections.webstack.circus.plugins.module_utils import source_archive


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "shop"
    for name in (
        "manage.py",
        "shop/__init__.py",
        "shop/settings.py",
        "shop/__pycache__/settings.cpython-311.pyc",
        "shop/old.pyc",
        ".git/config",
        ".venv/bin/python",
        "node_modules/x/index.js",
        "db.sqlite3",
        "media/upload.png",
        "shop/media/logo.svg",
        "docs/index.md",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


def shipped(root, exclude=()):
    return source_archive.shipped_files(str(root), list(exclude))


def test_a_plain_directory_ships_all_but_the_default_exclusions(source):
    assert shipped(source) == (
        "directory",
        [
            "docs/index.md",
            "manage.py",
            "shop/__init__.py",
            "shop/media/logo.svg",
            "shop/settings.py",
        ],
    )


def test_exclude_patterns_by_name_or_from_the_top(source):
    files = shipped(source, ["/docs", "settings.py"])[1]
    assert files == ["manage.py", "shop/__init__.py", "shop/media/logo.svg"]
    # Anchored patterns only match from the top: /media is not shop/media.
    assert "shop/media/logo.svg" in files


def test_a_git_work_tree_ships_what_git_would_commit(source):
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["rm", "-rf", str(source / ".git")], check=True)
    subprocess.run([*git, "init", "-q"], check=True)
    (source / ".gitignore").write_text("db.sqlite3\n.env\n/docs/\n")
    subprocess.run([*git, "add", "-f", "manage.py", "shop/__init__.py", "db.sqlite3"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    # Tracked, then no longer (and ignored): not shipped.
    subprocess.run([*git, "rm", "-q", "--cached", "db.sqlite3"], check=True)
    # Tracked but deleted from the work tree: not shipped.
    (source / "shop" / "__init__.py").unlink()
    # Not yet added: a new migration ships with the code that needs it; .env, ignored, not.
    (source / "shop" / "migrations").mkdir()
    (source / "shop" / "migrations" / "0002_new.py").write_text("")
    (source / ".env").write_text("SECRET=x")
    assert shipped(source) == (
        "git",
        [
            ".gitignore",
            "manage.py",
            # Untracked and not ignored; the default exclusions keep out the rest
            # (__pycache__, *.pyc, .venv, node_modules, /media) as for any directory.
            "shop/media/logo.svg",
            "shop/migrations/0002_new.py",
            "shop/settings.py",
        ],
    )


def test_a_git_work_tree_that_lists_nothing_is_refused(source, tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("*\n")
    with pytest.raises(source_archive.SourceError, match="lists no file to ship"):
        shipped(source)


def test_the_hash_follows_content_names_and_the_executable_bit(source):
    files = shipped(source)[1]
    first = source_archive.tree_hash(str(source), files)
    assert source_archive.tree_hash(str(source), files) == first
    (source / "manage.py").write_text("changed")
    second = source_archive.tree_hash(str(source), files)
    assert second != first
    (source / "manage.py").chmod(0o755)
    third = source_archive.tree_hash(str(source), files)
    assert third != second
    (source / "docs" / "index.md").unlink()
    assert source_archive.tree_hash(str(source), shipped(source)[1]) != third


def test_a_deleted_file_changes_the_hash_and_leaves_the_archive(source, tmp_path):
    before = source_archive.tree_hash(str(source), shipped(source)[1])
    (source / "docs" / "index.md").unlink()
    files = shipped(source)[1]
    assert source_archive.tree_hash(str(source), files) != before
    archive = tmp_path / "out.tar.gz"
    source_archive.write_archive(str(source), files, str(archive))
    with tarfile.open(archive) as packed:
        members = {member.name: member for member in packed.getmembers()}
    assert "docs/index.md" not in members
    assert sorted(name for name, member in members.items() if member.isfile()) == files
    assert {member.uname for member in members.values()} == {"root"}
    assert members["shop"].isdir() and members["shop"].mode == 0o755
    assert members["manage.py"].mode == 0o644
