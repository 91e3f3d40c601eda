# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""webstack.circus.run_record, and the same for a role of this collection (option
`role`): the fingerprint is computed here from the role's variables and code, and a read
that the preflight play made stands for the role's own while no role changed the host
(plugins/plugin_utils/role_record.py), which saves the role its round trip."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.webstack.circus.plugins.plugin_utils.role_record import (
    READS_FACT,
    RoleRecord,
    controller_key,
    forgotten,
    memory_of,
    remembered,
    reusable_read,
    role_values,
    taken,
    was_checked,
)

# What a role's task gives beyond the module's options.
ROLE_OPTIONS = ("role", "secret_names", "step")
STEPS = ("preflight", "read", "forget", "record")


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        role, secret_names, step = (args.pop(name, None) for name in ROLE_OPTIONS)
        step = step or "read"
        if role is None:
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            return result
        if step not in STEPS:
            return dict(result, failed=True, msg=f"step must be one of {', '.join(STEPS)}")

        memory = memory_of(task_vars.get(READS_FACT))
        if step == "forget":
            return dict(result, changed=False, ansible_facts={READS_FACT: forgotten(memory)})

        record = RoleRecord(
            task_vars["role_path"],
            role_values(self._templar.template, task_vars, role),
            secret_names or [],
            task_vars.get("ansible_facts", {}).get("distribution_release", ""),
            controller_key(),
        )
        path = args["path"]
        args.update(fingerprint=record.fingerprint, secrets=record.secrets)
        if step == "record":
            args["state"] = "present"
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            return result

        checked = was_checked(memory, path, record.checks)
        if step == "preflight" and checked:
            # The role's own preflight, after the preflight play's: nothing to check again.
            return dict(
                result,
                changed=False,
                skipped=True,
                skipped_reason="this run checked these values already",
                checked=True,
            )
        # The preflight reads lazily: it needs values_recorded, and converged.
        reused = reusable_read(memory, path, record.checks) if step == "read" else None
        answer = reused or self._execute_module(
            module_args=dict(args, lazy=step == "preflight"), task_vars=task_vars
        )
        result.update(answer)
        result.update(
            checked=checked,
            reused=bool(reused),
            checks=record.checks,
        )
        if reused:
            # Shown as skipped: the host was not asked again.
            result.update(skipped=True, skipped_reason="the preflight's read of the record stands")
        if not answer.get("failed"):
            if step == "preflight":
                memory = remembered(memory, path, record.checks, answer)
            else:
                memory = taken(memory, path, answer)
            result["ansible_facts"] = {READS_FACT: memory}
        return result
