#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: circus_watcher
short_description: Start, stop, reload and scale a Circus watcher
version_added: 1.0.0
description:
  - Manages the runtime state of one watcher of a running circusd through circusctl.
  - The number of processes is compared with the watcher's configured target (what
    C(circusctl get NAME numprocesses) reports), not with the live count, which lags
    while processes stop.
  - Changes made here live in circusd's memory. Keep the watcher's ini file in step (the
    C(webstack.circus.circus) role does) or a circusd restart brings the old values back.
author:
  - webstack.circus maintainers (@webstack)
options:
  name:
    description:
      - Name of the watcher, as in the C([watcher:NAME]) section.
    type: str
    required: true
  state:
    description:
      - V(started) and V(stopped) act only when the watcher is not already so.
      - V(restarted) stops every process, then starts new ones. V(reloaded) starts new
        processes first and then stops the old ones, so the socket always has processes
        to accept connections. Both always act, and start a stopped watcher.
    type: str
    choices: [started, stopped, restarted, reloaded]
    default: started
  numprocesses:
    description:
      - The number of processes the watcher should run.
      - Applied before the watcher is started, restarted or reloaded, and after it is
        stopped, so a stopped watcher keeps the new target for its next start.
    type: int
  sequential:
    description:
      - With O(state=reloaded), replace the processes one at a time instead of starting
        a whole new set first. Circus stops each old process before starting its
        replacement, so the watcher runs one process short during the reload.
      - Only valid with O(state=reloaded), and not with O(surge).
    type: bool
    default: false
  surge:
    description:
      - With O(state=reloaded), start the new processes next to the old ones
        (C(circusctl incr)), wait until every new one is ready, and only then stop the
        old ones (C(circusctl decr), which stops the oldest processes, each within the
        watcher's C(graceful_timeout)).
      - Circus's own reload stops the old processes as soon as the new ones are spawned,
        before they have loaded the application, so for a moment no process accepts
        connections. With O(surge) the old processes serve until the new ones are ready.
      - A new process is ready once the watcher's C(warmup_delay) has passed since it was
        started (Circus applies it to C(incr)) and, with O(ready_dir), once it has written
        its file there.
      - If the new processes are not ready within O(ready_timeout), the module stops them
        (C(circusctl kill), each within C(graceful_timeout)), takes the added processes back
        (C(circusctl decr)) and fails, saying which processes it kept and stopped; the old
        processes serve on and the number of processes is what it was.
      - Circus 0.19 respawns a stopped process at its next periodic check (C(check_delay))
        until the number of processes drops, and C(decr) stops the oldest processes. So
        the module sends C(decr) in the same circusctl session right after a listing that
        shows only the old processes, which leaves one round trip (milliseconds) in which
        a check would make C(decr) stop an old process. The module then reads what runs
        and its message says which old processes are gone, if any.
      - Only valid with O(state=reloaded) and O(wait=true). A stopped watcher is started.
    type: bool
    default: false
  ready_dir:
    description:
      - With O(surge), a directory where each process of the watcher writes an empty file
        named after its process id (the pid Circus started) once it can serve. The
        C(webstack.circus.django_app) role's workers do so after loading the app.
      - Only a regular file counts; a symlink or a directory named after a pid does not,
        and nothing there is followed.
      - Files and symlinks named after pids the watcher no longer runs are removed before
        the reload; directories are left alone.
      - One directory per watcher.
    type: path
  ready_timeout:
    description:
      - With O(surge), how many seconds the new processes have to become ready, counted
        after circusd has started them.
    type: int
    default: 60
  wait:
    description:
      - Wait until circusd has finished the operation (circusctl C(--waiting)) before
        returning, so the returned pids are those of the new processes.
      - Without it circusd answers as soon as it has accepted the command.
    type: bool
    default: true
extends_documentation_fragment:
  - webstack.circus.circusctl
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Shows the status and the configured number of processes before and after.
  platform:
    platforms: posix
notes:
  - A watcher whose processes exit at once is still reported V(active) while Circus
    keeps respawning them. The status is not a health check; test the service itself,
    for example with M(ansible.builtin.uri). The module warns when a watcher it has just
    started has no live process.
seealso:
  - module: webstack.circus.circus_info
"""

EXAMPLES = r"""
- name: Run four workers of the web app
  webstack.circus.circus_watcher:
    name: web
    numprocesses: 4
    endpoint: ipc:///run/circus/circusd.sock
    circusctl_path: /opt/circus/bin/circusctl

- name: Replace the workers after a deploy, new ones first
  webstack.circus.circus_watcher:
    name: web
    state: reloaded
    timeout: 60

- name: Replace the workers, old ones serving until the new ones have loaded the app
  webstack.circus.circus_watcher:
    name: web
    state: reloaded
    surge: true
    ready_dir: /srv/web/ready

- name: Stop the worker queue
  webstack.circus.circus_watcher:
    name: celery
    state: stopped
"""

RETURN = r"""
name:
  description: Name of the watcher.
  returned: success
  type: str
  sample: web
status:
  description:
    - Status of the watcher after the module ran, as circusd reports it (V(active),
      V(stopped), V(starting) or V(stopping)).
    - In check mode, the status the module predicts.
  returned: success
  type: str
  sample: active
numprocesses:
  description:
    - The configured number of processes after the module ran (in check mode, predicted).
  returned: success, and when a surge reload fails
  type: int
  sample: 4
pids:
  description:
    - Live process ids of the watcher after the module ran; in check mode, the current ones.
  returned: success, and when a surge reload fails
  type: list
  elements: int
  sample: [2405, 2406]
actions:
  description:
    - The circusctl commands run, or that would run in check mode. A reload with O(surge)
      is listed as C(incr NAME N) and C(decr NAME N).
  returned: success
  type: list
  elements: str
  sample: ["set web numprocesses 4", "reload web"]
started_pids:
  description:
    - Process ids that a restart or reload started (with O(surge), the new processes
      still running). Empty in check mode, for the other states, and when O(wait=false).
  returned: success
  type: list
  elements: int
  sample: [2419, 2420]
stopped_pids:
  description:
    - Process ids that a restart or reload stopped (with O(surge), the old processes).
      Empty in check mode, for the other states, and when O(wait=false).
    - When a surge reload fails, the processes it started and then stopped.
  returned: success, and when a surge reload fails
  type: list
  elements: int
  sample: [2405, 2406]
old_pids:
  description:
    - When a surge reload fails, the process ids that ran before it.
  returned: when a surge reload fails
  type: list
  elements: int
  sample: [2405, 2406]
new_pids:
  description:
    - When a surge reload fails, the new process ids that ran when O(ready_timeout) passed.
  returned: when a surge reload fails
  type: list
  elements: int
  sample: [2419, 2420]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    CONNECTION_ARGUMENT_SPEC,
    RUNNING_STATES,
    CircusClient,
    CircusError,
)
from ansible_collections.webstack.circus.plugins.module_utils.watcher import (
    apply_changes,
    describe,
    plan_changes,
    predict,
)


def check_params(module):
    """Fail on options that do not go together."""
    params = module.params
    name, state = params["name"], params["state"]
    if params["numprocesses"] is not None and params["numprocesses"] < 0:
        module.fail_json(
            msg=f"numprocesses must be 0 or more, got {params['numprocesses']}", name=name
        )
    for option in ("sequential", "surge"):
        if params[option] and state != "reloaded":
            module.fail_json(
                msg=f"{option} is only valid with state=reloaded, not state={state}", name=name
            )
    if params["surge"] and params["sequential"]:
        module.fail_json(msg="surge and sequential are two ways to reload: pick one", name=name)
    if params["surge"] and not params["wait"]:
        module.fail_json(msg="surge waits for the new processes: it needs wait=true", name=name)
    if params["ready_dir"] and not params["surge"]:
        module.fail_json(msg="ready_dir is only used with surge=true", name=name)
    if params["ready_dir"] and not os.path.isdir(params["ready_dir"]):
        module.fail_json(msg=f"ready_dir {params['ready_dir']} is not a directory", name=name)
    if params["ready_timeout"] < 1:
        module.fail_json(
            msg=f"ready_timeout must be at least 1 second, got {params['ready_timeout']}",
            name=name,
        )


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(
            type="str", default="started", choices=["started", "stopped", "restarted", "reloaded"]
        ),
        numprocesses=dict(type="int"),
        sequential=dict(type="bool", default=False),
        surge=dict(type="bool", default=False),
        ready_dir=dict(type="path"),
        ready_timeout=dict(type="int", default=60),
        wait=dict(type="bool", default=True),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    check_params(module)
    name = module.params["name"]

    client = CircusClient.from_module(module)
    try:
        # One circusctl for the calls: three to read, a dozen for a surge.
        with client.one_shell():
            before = client.watcher(name)
            changes = plan_changes(
                before,
                module.params["state"],
                module.params["numprocesses"],
                module.params["surge"],
            )
            stopped_pids, started_pids = [], []
            if module.check_mode or not changes:
                after = dict(predict(before, changes), pids=before["pids"])
            else:
                stopped_pids, started_pids = apply_changes(client, name, changes, module.params)
                after = client.watcher(name)
    except CircusError as e:
        module.fail_json(
            msg=f"watcher {name}: {e.message}", name=name, endpoint=client.endpoint, **e.details
        )

    if (
        changes
        and not module.check_mode
        and module.params["wait"]
        and after["status"] in RUNNING_STATES
        and after["numprocesses"] > 0
        and not after["pids"]
    ):
        module.warn(
            f"watcher {name} is {after['status']} but has no live process: "
            "its command may exit at once"
        )

    result = dict(
        changed=bool(changes),
        name=name,
        status=after["status"],
        numprocesses=after["numprocesses"],
        pids=after["pids"],
        actions=describe(name, changes),
        stopped_pids=stopped_pids,
        started_pids=started_pids,
    )
    if module._diff:
        result["diff"] = dict(
            before=dict(status=before["status"], numprocesses=before["numprocesses"]),
            after=dict(status=after["status"], numprocesses=after["numprocesses"]),
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
