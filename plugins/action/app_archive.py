# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""webstack.circus.app_archive packs on the controller, in Ansible's own process: the
source and the archives are the controller's, so the module (its documentation and the
same code, plugins/module_utils/source_archive.py) is never shipped to a host. A run
that changes nothing saves a module execution (a Python process) per play."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

from ansible_collections.webstack.circus.plugins.module_utils.controller_cache import CacheError
from ansible_collections.webstack.circus.plugins.module_utils.source_archive import (
    ARGUMENT_SPEC,
    SourceError,
    pack,
)


class ActionModule(ActionBase):
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        arguments = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        # Relative paths are the controller's, from where ansible-playbook runs.
        try:
            result.update(
                pack(
                    os.path.abspath(arguments["src"]),
                    os.path.abspath(arguments["dest"]),
                    arguments["exclude"],
                    arguments["max_age_days"],
                    check_mode=self._task.check_mode,
                )
            )
        except (SourceError, CacheError, OSError) as error:
            result.update(failed=True, msg=str(error))
        return result
