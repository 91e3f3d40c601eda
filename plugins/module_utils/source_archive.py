# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an app's source ships, the hash that names its release, and the archive of it:
the webstack.circus.app_archive action (on the controller, in Ansible's own process) and
module share this."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
import subprocess
import tarfile
import tempfile

from ansible_collections.webstack.circus.plugins.module_utils.controller_cache import (
    MAX_AGE_OPTION,
    mark_used,
    prune,
)

DEFAULT_EXCLUDE = [
    "__pycache__",
    "*.pyc",
    ".git",
    ".venv",
    "node_modules",
    "*.sqlite3",
    "*.sqlite",
    "/media",
]
CHUNK = 1 << 20
# The options of app_archive, checked alike by its action plugin and its module.
ARGUMENT_SPEC = dict(
    src=dict(type="path", required=True),
    dest=dict(type="path", required=True),
    exclude=dict(type="list", elements="str", default=[]),
    max_age_days=MAX_AGE_OPTION,
)
# What the cache holds: code archives (named by their tree hash), and the static files
# archives the django_app role fetches from its hosts (static-RELEASE-HOST.tar.gz), which it
# removes once the proxies have them: a run that failed in between leaves one.
ARCHIVE_NAMES = re.compile(r"[0-9a-f]{16}\.tar\.gz|static-[0-9a-f]{16}(-[A-Za-z0-9._-]+)?\.tar\.gz")


class SourceError(Exception):
    pass


def excluded(relative, patterns):
    """Whether a path (relative, with /) matches one of the patterns: a pattern that
    starts with / matches the path or one of its parents from the top, any other one
    matches the name of the path or of one of its parents."""
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("/"):
            anchored = pattern.strip("/")
            if any(
                fnmatch.fnmatchcase("/".join(parts[: depth + 1]), anchored)
                for depth in range(len(parts))
            ):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def git_list(src, options):
    """The paths that git ls-files lists with options under src, relative to it."""
    listed = subprocess.run(
        ["git", "-C", src, "ls-files", "-z", *options], capture_output=True, check=False
    )
    if listed.returncode != 0:
        raise SourceError(
            f"git ls-files failed in {src}: {listed.stderr.decode(errors='replace').strip()}"
        )
    return [name.decode("utf-8", "surrogateescape") for name in listed.stdout.split(b"\0") if name]


def git_files(src):
    """What git would commit of the work tree under src (its tracked files that are there,
    and the untracked ones that neither .gitignore nor the default exclusions keep out),
    or None if src is not in a work tree."""
    try:
        inside = subprocess.run(
            ["git", "-C", src, "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    tracked = git_list(src, ["--cached"])
    untracked = [
        name
        for name in git_list(src, ["--others", "--exclude-standard"])
        if not excluded(name, DEFAULT_EXCLUDE)
    ]
    return sorted(
        set(name for name in tracked + untracked if os.path.lexists(os.path.join(src, name)))
    )


def walked_files(src, patterns):
    """Every file and symlink under src not excluded, sorted."""
    found = []
    for directory, subdirectories, files in os.walk(src):
        relative_dir = os.path.relpath(directory, src)
        prefix = "" if relative_dir == "." else relative_dir.replace(os.sep, "/") + "/"
        kept = []
        for name in sorted(subdirectories):
            path = os.path.join(directory, name)
            if excluded(prefix + name, patterns):
                continue
            if os.path.islink(path):
                found.append(prefix + name)
            else:
                kept.append(name)
        subdirectories[:] = kept
        found.extend(prefix + name for name in files if not excluded(prefix + name, patterns))
    return sorted(found)


def shipped_files(src, exclude):
    """(kind, sorted relative paths) of what a directory source ships."""
    tracked = git_files(src)
    if tracked is not None:
        files = [name for name in tracked if not excluded(name, exclude)]
        if not files:
            raise SourceError(
                f"{src} is in a git work tree where git lists no file to ship (all are "
                "ignored): add the app's files, or ship a directory outside a work tree"
            )
        return "git", files
    files = walked_files(src, DEFAULT_EXCLUDE + list(exclude))
    if not files:
        raise SourceError(f"{src} has no file to ship")
    return "directory", files


def file_digest(path):
    """SHA-256 of a file's content (hexadecimal), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_hash(src, files):
    """SHA-256 over each path with its type, executable bit and content (or link target)."""
    digest = hashlib.sha256()
    for name in files:
        path = os.path.join(src, name)
        if os.path.islink(path):
            entry = f"{name}\0link\0{os.readlink(path)}\n"
        else:
            executable = "x" if os.stat(path).st_mode & stat.S_IXUSR else "-"
            entry = f"{name}\0file\0{executable}\0{file_digest(path)}\n"
        digest.update(entry.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def normalized(info, mode):
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = mode
    return info


def write_archive(src, files, destination):
    """A tar.gz of the files with their parent directories, owned by root, mode 0644 (0755
    for executables and directories); written beside the destination, then renamed."""
    directories = sorted(
        {
            "/".join(name.split("/")[:depth])
            for name in files
            for depth in range(1, name.count("/") + 1)
        }
    )
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(destination), suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            for name in directories:
                info = tarfile.TarInfo(name)
                info.type = tarfile.DIRTYPE
                archive.addfile(normalized(info, 0o755))
            for name in files:
                path = os.path.join(src, name)
                info = archive.gettarinfo(path, arcname=name)
                if info.issym():
                    archive.addfile(normalized(info, 0o777))
                    continue
                mode = 0o755 if info.mode & stat.S_IXUSR else 0o644
                with open(path, "rb") as content:
                    archive.addfile(normalized(info, mode), content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        os.unlink(temporary)
        raise


def pack(src, dest, exclude, max_age_days, check_mode=False):
    """What app_archive returns for the source src: its tree hash, the archive (written
    into dest unless it is there or check_mode), the kind of source and its files, and
    the archives of dest no run used for max_age_days, which it removed (none in check
    mode). Raises SourceError for a source that ships nothing."""
    src = src.rstrip("/") or "/"
    if os.path.isfile(src):
        result = dict(changed=False, tree=file_digest(src), archive=src, kind="package", files=[])
    elif not os.path.isdir(src):
        raise SourceError(
            f"the app's source {src} is neither a directory nor a file on the controller"
        )
    else:
        kind, files = shipped_files(src, exclude)
        tree = tree_hash(src, files)
        archive = os.path.join(dest, tree[:16] + ".tar.gz")
        changed = not os.path.exists(archive)
        if not check_mode:
            if changed:
                os.makedirs(dest, exist_ok=True)
                write_archive(src, files, archive)
            else:
                mark_used(archive)
        result = dict(changed=changed, tree=tree, archive=archive, kind=kind, files=files)
    result["removed"] = (
        [] if check_mode else prune(dest, ARCHIVE_NAMES, max_age_days, keep=[result["archive"]])
    )
    return result
