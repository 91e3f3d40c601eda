# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Digests of secret values and of the files that hold them, keyed by the host.

A plain sha256 of a password, or of a file that holds one, lets whoever sees it (a log,
a --diff, a record) test guesses offline. An HMAC under a random key that only root on
the host can read does not: the modules that record what a role converged to digest
with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile

KEY_PATH = "/var/lib/webstack/records/.digest-key"
KEY_BYTES = 32


def host_key(path, create):
    """The host's key, made (root's only, in one link) when missing and `create` is set;
    None when missing and not."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        if not create:
            return None
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".digest-key.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(os.urandom(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        # link() fails where another run made the key first: theirs is kept.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    with open(path, "rb") as handle:
        return handle.read()


def value_digest(key, value):
    """The keyed digest of a JSON value (its keys sorted)."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def file_digest(key, path):
    """The keyed digest of a file's content, or "" when it does not exist."""
    digest = hmac.new(key, digestmod=hashlib.sha256)
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
    except FileNotFoundError:
        return ""
    return digest.hexdigest()
