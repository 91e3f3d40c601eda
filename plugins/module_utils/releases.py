# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An app's releases on a host, as the django_app role lays them out under its home:

    releases/ID/app       the code of release ID (ID: 16 hex digits derived from content)
    releases/ID/venv      symlink to venvs/KEY, the virtualenv of its packages
    releases/ID/static    its collected static files
    venvs/KEY/            one virtualenv per set of packages, shared by releases
    current               symlink to releases/ID, switched atomically
    deploy-state.json     {"history": [IDs in the order they became current],
                           "loaded": what the workers were last reloaded onto,
                           "load_seconds": how long their last load took}

The functions here decide from that state alone (no daemon, no Ansible), so that unit
tests can hold them to their rules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

RELEASE_ID = re.compile(r"^[0-9a-f]{16}$")
STATE_FILE = "deploy-state.json"
MIGRATION = re.compile(r"^[0-9]{4}_\w+\.py$")


def read_state(home):
    """The recorded state, or an empty one where none was written yet."""
    try:
        with open(os.path.join(home, STATE_FILE)) as state:
            recorded = json.load(state)
    except FileNotFoundError:
        recorded = {}
    state = {"history": list(recorded.get("history", [])), "loaded": recorded.get("loaded", "")}
    if "load_seconds" in recorded:
        state["load_seconds"] = float(recorded["load_seconds"])
    return state


def write_state(home, state):
    """Replace the state file in one rename, so a crash leaves the old or the new one."""
    handle, temporary = tempfile.mkstemp(dir=home, prefix=".deploy-state.")
    with os.fdopen(handle, "w") as out:
        json.dump(state, out, indent=1, sort_keys=True)
        out.write("\n")
    # Root's only: "loaded" carries a short hash of the app's environment, secrets included.
    os.chmod(temporary, 0o600)
    os.replace(temporary, os.path.join(home, STATE_FILE))


def present_releases(home):
    """The complete releases on the host: directories named by a release id (a release
    being built is named ID.partial until it is complete)."""
    try:
        names = os.listdir(os.path.join(home, "releases"))
    except FileNotFoundError:
        return set()
    return {
        name
        for name in names
        if RELEASE_ID.match(name) and os.path.isdir(os.path.join(home, "releases", name))
    }


def current_release(home):
    """The release the `current` symlink points at, or "" if there is none."""
    try:
        return os.path.basename(os.readlink(os.path.join(home, "current")))
    except (FileNotFoundError, OSError):
        return ""


def with_current(history, release):
    """History with `release` made current: moved (or added) to the end."""
    return [each for each in history if each != release] + [release]


def previous_release(history, current, present):
    """The release that was current before `current` and is still on the host, or ""."""
    older = history[: history.index(current)] if current in history else list(history)
    for release in reversed(older):
        if release in present and release != current:
            return release
    return ""


def ordered(history, present):
    """Present releases from oldest to newest: those never made current (built by a run
    that failed before the switch) first, then in the order they became current."""
    switched = [release for release in history if release in present]
    return sorted(present - set(switched)) + switched


def prune_plan(history, present, keep, protected):
    """Releases to delete so that the `keep` newest remain, never one in `protected`
    (the current one, the one before it, the one being deployed)."""
    if keep < 2:
        raise ValueError(f"keep must be 2 or more, got {keep}")
    newest_first = list(reversed(ordered(history, present)))
    kept = set(newest_first[:keep]) | (set(protected) & present)
    return sorted(set(newest_first) - kept)


def used_venvs(home, releases):
    """The virtualenv keys that the given releases link to."""
    keys = set()
    for release in releases:
        try:
            keys.add(os.path.basename(os.readlink(os.path.join(home, "releases", release, "venv"))))
        except OSError:
            continue
    return keys


def remove_releases(home, releases):
    """Delete releases, then the virtualenvs and unfinished builds no release uses."""
    for release in releases:
        shutil.rmtree(os.path.join(home, "releases", release))
    keep = used_venvs(home, present_releases(home))
    removed_venvs = []
    venvs = os.path.join(home, "venvs")
    for key in sorted(os.listdir(venvs)) if os.path.isdir(venvs) else []:
        if key not in keep:
            shutil.rmtree(os.path.join(venvs, key))
            removed_venvs.append(key)
    return removed_venvs


def record_loaded(home, loaded, keep, release, check_mode=False, load_seconds=None):
    """Record loaded as what the workers run (and load_seconds, how long their load took,
    when given), and delete the releases beyond the keep newest, never the current one,
    the one before it or release (with the virtualenvs no release uses). Returns
    (changed, removed releases, removed virtualenvs); in check mode nothing is written
    and no virtualenv is counted."""
    state = read_state(home)
    present = present_releases(home)
    current = current_release(home)
    protected = {current, previous_release(state["history"], current, present), release}
    doomed = prune_plan(state["history"], present, keep, protected)
    changed = state["loaded"] != loaded or bool(doomed)
    if check_mode:
        return changed, doomed, []
    if state["loaded"] != loaded:
        timed = {} if load_seconds is None else {"load_seconds": round(load_seconds, 1)}
        write_state(home, dict(state, loaded=loaded, **timed))
    removed_venvs = remove_releases(home, doomed)
    return changed or bool(removed_venvs), doomed, removed_venvs


def switch_current(home, release):
    """Point `current` at releases/RELEASE in one rename: a process that resolves it
    sees the old release or the new one, never no release."""
    link = os.path.join(home, "current")
    temporary = os.path.join(home, f".current.{os.getpid()}")
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(os.path.join("releases", release), temporary)
    os.replace(temporary, link)


def migrations(app_dir):
    """The migrations shipped in a release's code, as "app/migrations/0001_name"."""
    found = set()
    for directory, subdirectories, files in os.walk(app_dir):
        subdirectories[:] = [name for name in subdirectories if not name.startswith((".", "__"))]
        if os.path.basename(directory) != "migrations" or "__init__.py" not in files:
            continue
        relative = os.path.relpath(directory, app_dir)
        found.update(os.path.join(relative, name[:-3]) for name in files if MIGRATION.match(name))
    return found


def migrations_lost_by_going_back(current_app_dir, target_app_dir):
    """Migrations the current release ships and the target does not: going back to the
    target leaves them applied in the database with no code that knows them."""
    return sorted(migrations(current_app_dir) - migrations(target_app_dir))


# Where the app's commands find programs after the release's virtualenv.
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# The options of the modules that run the app's commands (doc fragment app_commands).
APP_COMMANDS_ARGUMENT_SPEC = dict(
    run_as=dict(type="list", elements="str", default=[]),
    hide=dict(type="list", elements="str", default=[], no_log=True),
)


def app_command(run_as, release_dir, argv):
    """The command line that runs argv, a command of the app, behind run_as (which
    becomes the app's user with its environment) with the release's virtualenv first
    in PATH: env(1) sets PATH, then finds argv[0] in it."""
    return [*run_as, "/usr/bin/env", f"PATH={release_dir}/venv/bin:{SYSTEM_PATH}", *argv]


def output_lines(argv, out, last=40):
    """A command and the last lines of its output, as a task's result shows them."""
    return [f"$ {' '.join(argv)}", *out.strip().splitlines()[-last:]]


# A line of a requirements file that includes another (-r) or constrains by one (-c).
REQUIREMENT_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=\S))(\S+)")


def included_files(text, constraints=True):
    """The files a requirements file's text includes (-r) and, with constraints, those it
    constrains by (-c), as written (relative to that file's directory), in order."""
    return [
        match.group(2)
        for line in text.splitlines()
        if (match := REQUIREMENT_INCLUDE.match(line.split(" #", 1)[0].strip()))
        and (constraints or match.group(1) in ("-r", "--requirement"))
    ]


def requirements_closure(name, read, constraints=True):
    """{path: content (bytes)} of the requirements file name and of every file it
    includes (and constrains by, with constraints), recursively, in the order met, each
    once; read(path) gives a file's bytes, or None for one that is not there."""
    contents, pending = {}, [name]
    while pending:
        path = pending.pop(0)
        if path in contents:
            continue
        content = read(path)
        if content is None:
            continue
        contents[path] = content
        directory = os.path.dirname(path)
        text = content.decode("utf-8", "replace")
        pending.extend(
            os.path.normpath(os.path.join(directory, other))
            for other in included_files(text, constraints)
        )
    return contents
