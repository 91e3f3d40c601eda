#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: circus_watcher
short_description: Start, stop, reload and scale a Circus watcher
version_added: 0.1.0
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
      - Only valid with O(state=reloaded).
    type: bool
    default: false
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
  returned: success
  type: int
  sample: 4
pids:
  description:
    - Live process ids of the watcher after the module ran; in check mode, the current ones.
  returned: success
  type: list
  elements: int
  sample: [2405, 2406]
actions:
  description: The circusctl commands run, or that would run in check mode.
  returned: success
  type: list
  elements: str
  sample: ["set web numprocesses 4", "reload web"]
started_pids:
  description:
    - Process ids that a restart or reload started. Empty in check mode, for the other
      states, and when O(wait=false).
  returned: success
  type: list
  elements: int
  sample: [2419, 2420]
stopped_pids:
  description:
    - Process ids that a restart or reload stopped. Empty in check mode, for the other
      states, and when O(wait=false).
  returned: success
  type: list
  elements: int
  sample: [2405, 2406]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    CONNECTION_ARGUMENT_SPEC,
    RUNNING_STATES,
    CircusClient,
    CircusError,
)

ALWAYS_ACTING_STATES = {"restarted": "restart", "reloaded": "reload"}


def plan_changes(current, state, numprocesses):
    """List the (command, value) pairs that bring the watcher from current to what is wanted.

    current holds the watcher's "status" and configured "numprocesses".
    """
    scale = []
    if numprocesses is not None and numprocesses != current["numprocesses"]:
        scale = [("numprocesses", numprocesses)]
    if state == "stopped":
        stop = [("stop", None)] if current["status"] != "stopped" else []
        return stop + scale
    if state in ALWAYS_ACTING_STATES:
        return [*scale, (ALWAYS_ACTING_STATES[state], None)]
    start = [("start", None)] if current["status"] not in RUNNING_STATES else []
    return scale + start


def predict(current, changes):
    """The status and configured numprocesses that the changes lead to."""
    after = dict(status=current["status"], numprocesses=current["numprocesses"])
    for command, value in changes:
        if command == "numprocesses":
            after["numprocesses"] = value
        else:
            after["status"] = "stopped" if command == "stop" else "active"
    return after


def describe(name, changes):
    return [
        f"set {name} numprocesses {value}" if command == "numprocesses" else f"{command} {name}"
        for command, value in changes
    ]


def apply_changes(client, name, changes, sequential, wait):
    """Run the changes; return the pids that a restart or reload stopped and started."""
    replaced = {}
    for command, value in changes:
        if command == "numprocesses":
            client.set_numprocesses(name, value, wait)
        elif command == "start":
            client.start(name, wait)
        elif command == "stop":
            client.stop(name, wait)
        elif command == "reload":
            replaced = client.reload(name, sequential, wait)
        elif command == "restart":
            replaced = client.restart(name, wait)
    return sorted(replaced.get("stopped", [])), sorted(replaced.get("started", []))


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(
            type="str", default="started", choices=["started", "stopped", "restarted", "reloaded"]
        ),
        numprocesses=dict(type="int"),
        sequential=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    name = module.params["name"]
    state = module.params["state"]
    numprocesses = module.params["numprocesses"]

    if numprocesses is not None and numprocesses < 0:
        module.fail_json(msg=f"numprocesses must be 0 or more, got {numprocesses}", name=name)
    if module.params["sequential"] and state != "reloaded":
        module.fail_json(
            msg=f"sequential is only valid with state=reloaded, not state={state}", name=name
        )

    client = CircusClient.from_module(module)
    try:
        before = client.watcher(name)
        changes = plan_changes(before, state, numprocesses)
        stopped_pids, started_pids = [], []
        if module.check_mode or not changes:
            after = dict(predict(before, changes), pids=before["pids"])
        else:
            stopped_pids, started_pids = apply_changes(
                client, name, changes, module.params["sequential"], module.params["wait"]
            )
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
