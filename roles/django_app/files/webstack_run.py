# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a command of the app with the environment the django_app role wrote for it.

Usage: python3 -I webstack_run.py ENV_FILE [--env-file EXTRA] [--user USER] -- COMMAND [ARG...]

The command gets exactly the environment in ENV_FILE, a JSON object of strings, and
nothing from its caller. An EXTRA file (same format) adds to it or overrides it: the
values one management command needs (webstack.circus.manage's manage_env, such as
DJANGO_SUPERUSER_PASSWORD), written for that command by root, readable by root only.
Circus starts every worker through it, and Ansible runs manage.py through it (as root,
with ``--user``: the files are read, then the process becomes the app's user). So:

- no value of the environment is ever on a command line (``ps``), in a task's arguments
  (``-vvv``, sudo's log) or in Circus's configuration (``circusctl options``);
- workers and manage.py see byte-identical values: Circus rewrites ``[env:…]`` values
  (``$$``, ``$NAME``, `` ;`` comments, surrounding spaces), a JSON file keeps them.

The command replaces this process (exec): Circus's pid is the worker's. A relative
COMMAND is found from the working directory, which Circus resolves once, when it starts
the worker, so ``../venv/bin/SERVER`` stays in the worker's release.
"""

import json
import os
import pwd
import sys

USAGE = "usage: webstack_run.py ENV_FILE [--env-file EXTRA] [--user USER] -- COMMAND [ARG...]"


def read_environment(path):
    """Return the JSON object of strings in path; exit with a message on anything else."""
    try:
        with open(path, encoding="utf-8") as env_file:
            environment = json.load(env_file)
    except (OSError, ValueError) as error:
        sys.exit(f"webstack_run: cannot read the environment in {path}: {error}")
    if not isinstance(environment, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in environment.items()
    ):
        sys.exit(f"webstack_run: {path} must hold a JSON object of strings")
    # os.environ refuses these with a ValueError and a traceback.
    bad = sorted(name for name in environment if not name or "=" in name or "\0" in name)
    bad += sorted(name for name, value in environment.items() if "\0" in value)
    if bad:
        sys.exit(
            f"webstack_run: {path}: an environment name must be non-empty, without '=' or NUL,"
            f" and a value without NUL: {', '.join(map(repr, bad))}"
        )
    return environment


def become(user):
    """Take the user's uid, primary group and supplementary groups."""
    entry = pwd.getpwnam(user)
    os.initgroups(user, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def parse(argv):
    """Return (env_files, user or None, command) from the command line."""
    if "--" not in argv:
        sys.exit(USAGE)
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    if not options or not command or len(options) % 2 != 1:
        sys.exit(USAGE)
    env_files, user = [options[0]], None
    for name, value in zip(options[1::2], options[2::2]):
        if name == "--env-file":
            env_files.append(value)
        elif name == "--user" and user is None:
            user = value
        else:
            sys.exit(USAGE)
    return env_files, user, command


def main(argv):
    env_files, user, command = parse(argv)
    environment = {}
    for env_file in env_files:
        environment.update(read_environment(env_file))
    if user is not None:
        become(user)
    try:
        os.execve(command[0], command, environment)
    except OSError as error:
        sys.exit(f"webstack_run: cannot run {command[0]}: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
