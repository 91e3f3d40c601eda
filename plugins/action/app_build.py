# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""webstack.circus.app_build ships the controller's archive with the module: a small one
inside the module's arguments, so that shipping it, unpacking it and building the release
take one command on the host; a large one as a file transfer first (a few more)."""

from __future__ import annotations

import base64
import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

# Larger archives are transferred as files: arguments are held in memory several times
# (base64, JSON, the module's wrapper) on both sides.
INLINE_LIMIT = 8 * 1024 * 1024


class ActionModule(ActionBase):
    # A temporary directory on the host only for a large archive (its own round trips).
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        src = args.get("src")
        if not src or args.get("remote_src") or args.get("code") == "present":
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            return result
        try:
            local = self._find_needle("files", os.path.expanduser(src))
        except AnsibleError as e:
            result.update(failed=True, msg=str(e))
            return result
        args.update(filename=os.path.basename(local), src=None)
        inline = os.path.getsize(local) <= INLINE_LIMIT
        if inline:
            with open(local, "rb") as archive:
                args["content"] = base64.b64encode(archive.read()).decode()
        else:
            # In check mode too: the module reads the requirements file from the archive.
            self._make_tmp_path()
            remote = self._connection._shell.join_path(self._connection._shell.tmpdir, "source")
            self._transfer_file(local, remote)
            self._fixup_perms2((self._connection._shell.tmpdir, remote))
            args.update(src=remote, remote_src=True)
        try:
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            result["shipped"] = "in the arguments" if inline else "as a file"
        finally:
            if self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
