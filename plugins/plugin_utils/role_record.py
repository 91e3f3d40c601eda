# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a role of this collection records on a host (the run_record module) and how a
run reuses a read, on the controller.

A role converges to its public variables (ROLE_*), its own files and the collection's
plugins, on a Debian release: their digest is the record's fingerprint. Its secret
variables are left out of it (logs show the fingerprint); the module keeps their digest
keyed by the host.

The preflight play reads each role's record before it checks the variables (a host whose
record holds skips the checks: the last complete run passed them with the same values
and code). Its read stands for the role's own read later in the run while no role has
changed the host: a role that is about to change the host forgets every read, a converged
one takes its own. This memory is a fact of the host, READS_FACT:

    {"checked": {RECORD PATH: CHECKS}, "reads": {RECORD PATH: {"checks": CHECKS, "answer": READ}}}

CHECKS is a digest of the values and secrets, keyed by the controller (CONTROLLER_KEY),
so that facts shown in logs let no one test guesses of a secret.
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import json
import os
import secrets as random

READS_FACT = "__webstack_reads"
CONTROLLER_KEY = "~/.cache/webstack.circus/record-key"
# The role's own files and the collection's plugins, from the role's directory.
CODE = (
    "defaults/*",
    "files/*",
    "handlers/*",
    "meta/*",
    "tasks/*",
    "templates/*",
    "vars/*",
    "../../plugins/action/*",
    "../../plugins/module_utils/*",
    "../../plugins/modules/*",
    "../../plugins/plugin_utils/*",
)


def role_values(template, task_vars, role):
    """The role's variables (ROLE_*) as the task sees them, each rendered by template:
    what its fingerprint covers and what its rules check."""
    return {
        name: template(task_vars[name]) for name in sorted(task_vars) if name.startswith(role + "_")
    }


def digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def code_digest(role_path):
    """The digest of the role's code: each file's path (from the role) and content."""
    files = sorted(path for pattern in CODE for path in glob.glob(os.path.join(role_path, pattern)))
    hashed = hashlib.sha256()
    for path in files:
        if os.path.isfile(path):
            hashed.update(os.path.relpath(path, role_path).encode() + b"\0")
            with open(path, "rb") as content:
                hashed.update(hashlib.sha256(content.read()).digest())
    return hashed.hexdigest()


def controller_key(path=CONTROLLER_KEY):
    """The controller's random key (made once, 0600)."""
    path = os.path.expanduser(path)
    try:
        with open(path, "rb") as key:
            return key.read()
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    key = random.token_bytes(32)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another host's task made it at the same moment.
        with open(path, "rb") as made:
            return made.read()
    with os.fdopen(handle, "wb") as out:
        out.write(key)
    return key


class RoleRecord:
    """The fingerprint and checks of a role's variables (name -> value, as the run sees
    them) and code, and its secrets."""

    def __init__(self, role_path, variables, secret_names, release, key):
        public = {name: value for name, value in variables.items() if name not in secret_names}
        self.secrets = {name: variables.get(name) for name in secret_names}
        values = digest(public)
        self.fingerprint = digest([values, code_digest(role_path), release])
        self.checks = hmac.new(key, digest([values, self.secrets]).encode(), "sha256").hexdigest()


def memory_of(fact):
    fact = fact or {}
    return {"checked": dict(fact.get("checked", {})), "reads": dict(fact.get("reads", {}))}


def was_checked(memory, path, checks):
    """Whether this run checked these values and secrets for the record at path."""
    return memory["checked"].get(path) == checks


def reusable_read(memory, path, checks):
    """The preflight's read of the record at path, where it stands for the role's own:
    made with these values and secrets, on a host that had converged."""
    read = memory["reads"].get(path)
    if read and read["checks"] == checks and read["answer"].get("converged"):
        return read["answer"]
    return None


def remembered(memory, path, checks, answer):
    """The memory once the preflight read the record at path (before it checks the values:
    a run stops at a value that fails)."""
    return {
        "checked": dict(memory["checked"], **{path: checks}),
        "reads": dict(memory["reads"], **{path: {"checks": checks, "answer": answer}}),
    }


def taken(memory, path, answer):
    """The memory once the role read its record: a converged role takes its own read (once);
    a role that will change the host forgets them all."""
    reads = {other: read for other, read in memory["reads"].items() if other != path}
    return {"checked": memory["checked"], "reads": reads if answer.get("converged") else {}}


def forgotten(memory):
    """The memory once a role changes the host: what it read no longer stands."""
    return {"checked": memory["checked"], "reads": {}}
