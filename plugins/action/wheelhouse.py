# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""webstack.circus.wheelhouse builds on the controller, in Ansible's own process. With
host_path it also reads the host's platform and the wheelhouses it holds (one command),
and, unless the host holds this one alone, ships the archive and unpacks it there (one
transfer, one command): a run that changes nothing is one round trip."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.webstack.circus.plugins.module_utils.wheelhouse import (
    ARGUMENT_SPEC,
    WheelhouseError,
    build_wheelhouse,
)
from ansible_collections.webstack.circus.plugins.plugin_utils.wheelhouse_host import (
    ship_wheelhouse,
)


class ActionModule(ActionBase):
    # A temporary directory on the host only when the archive is shipped.
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        params = dict(self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1])
        check_mode = self._task.check_mode
        try:
            if params["host_path"]:
                result.update(ship_wheelhouse(self, params, check_mode))
            else:
                result.update(build_wheelhouse(params, check_mode=check_mode))
        except WheelhouseError as error:
            result.update(failed=True, msg=str(error))
        return result
