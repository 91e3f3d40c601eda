# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""webstack.circus.app_build ships the controller's archive with the module: a small one
inside the module's arguments, so that shipping it, unpacking it, installing the
virtualenv and building the release take one command on the host; a large one as a file
transfer first (a few more).

With wheelhouse (a host without a package index), a virtualenv to install needs the wheels
of what the module says pip installs: the first call unpacks and stops before the
virtualenv, the wheels are built on the controller and shipped, the second call installs
from them and completes the release."""

from __future__ import annotations

import base64
import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.webstack.circus.plugins.module_utils.wheelhouse import (
    ARGUMENT_SPEC as WHEELHOUSE_SPEC,
)
from ansible_collections.webstack.circus.plugins.module_utils.wheelhouse import WheelhouseError
from ansible_collections.webstack.circus.plugins.plugin_utils.wheelhouse_host import (
    ship_wheelhouse,
)

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
        wheelhouse = args.pop("wheelhouse", None)
        if wheelhouse and args.get("venv_install"):
            return self._offline(result, args, wheelhouse, task_vars)
        result.update(self._build(args, task_vars))
        return result

    def _offline(self, result, args, wheelhouse, task_vars):
        """Unpack, ship the wheels the virtualenv needs, then install it from them alone."""
        first = self._build(dict(args, venv_install=False), task_vars)
        result.update(first)
        if first.get("failed") or first["built"] or self._task.check_mode:
            return result
        package = [self._local(args["src"])] if args.get("code") == "package" else []
        # As the wheelhouse module reads its options (defaults, ~ expanded).
        checked = ArgumentSpecValidator(WHEELHOUSE_SPEC).validate(
            dict(wheelhouse, requirements=first["install"] + package)
        )
        if checked.error_messages:
            return dict(result, failed=True, msg=f"wheelhouse: {'; '.join(checked.error_messages)}")
        try:
            shipped = ship_wheelhouse(self, checked.validated_parameters, check_mode=False)
        except (WheelhouseError, AnsibleError) as error:
            shipped = dict(failed=True, msg=str(error))
        if shipped.get("failed"):
            return dict(result, failed=True, msg=f"the wheels of the virtualenv: {shipped['msg']}")
        # The code the first call unpacked stays; a package (named by its tree) comes again.
        again = dict(args, pip_find_links=shipped["path"])
        if args.get("code") == "archive":
            again.update(code="present", src=None)
        result.update(self._build(again, task_vars), changed=True, wheelhouse=shipped)
        return result

    def _local(self, src):
        return self._find_needle("files", os.path.expanduser(src))

    def _build(self, args, task_vars):
        """The module's result for args, with src, if any, shipped from the controller."""
        result = {}
        src = args.get("src")
        if not src or args.get("remote_src") or args.get("code") == "present":
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            return result
        try:
            local = self._local(src)
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
