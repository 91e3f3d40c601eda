# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's caches of archives (app_archive's code archives, wheelhouse's wheel
archives): each archive a run uses is marked used (its modification time), and those no
run used for max_age_days are removed, so that a controller deploying every day does not
fill its disk. A removed archive is built again when a run needs it."""

from __future__ import annotations

import os
import time

DAY = 24 * 60 * 60
# The option both modules take.
MAX_AGE_OPTION = dict(type="int", default=30)


class CacheError(Exception):
    pass


def mark_used(path):
    os.utime(path)


def prune(directory, names, max_age_days, keep=(), now=None):
    """Removes the files of directory whose names fully match the compiled pattern names
    and that were last used more than max_age_days ago, except the paths in keep; returns
    the removed names, sorted. max_age_days 0 keeps every file."""
    if max_age_days < 0:
        raise CacheError(f"max_age_days must be 0 (keep every archive) or more, not {max_age_days}")
    if max_age_days == 0 or not os.path.isdir(directory):
        return []
    oldest = (time.time() if now is None else now) - max_age_days * DAY
    removed = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if (
                names.fullmatch(entry.name)
                and entry.path not in keep
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < oldest
            ):
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    # Another run pruned it first.
                    continue
                removed.append(entry.name)
    return sorted(removed)
