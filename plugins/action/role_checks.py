# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""webstack.circus.role_checks: a role's values against its rules, on the controller
(plugins/plugin_utils/role_checks.py). Nothing reaches the host."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.webstack.circus.plugins.plugin_utils.role_checks import ERRORS, errors
from ansible_collections.webstack.circus.plugins.plugin_utils.role_record import role_values

# The apps of this run checked on the host before this one (django_app's claims.yml).
CLAIMS = "__django_app_claims"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        role = self._task.args.get("role")
        if role not in ERRORS:
            return dict(result, failed=True, msg=f"role must be one of {', '.join(ERRORS)}")
        values = role_values(self._templar.template, task_vars, role)
        context = {
            "hostname": task_vars.get("inventory_hostname", ""),
            "others": list(self._templar.template(task_vars.get(CLAIMS, {})).values()),
        }
        found = errors(role, values, context)
        if found:
            # One message per broken rule, each naming its variable.
            return dict(result, failed=True, msg=" ".join(found), errors=found)
        return dict(result, changed=False, msg=f"every value of {role} follows its rules")
