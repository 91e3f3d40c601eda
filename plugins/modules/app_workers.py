#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_workers
short_description: Move an app's workers to a release, or leave them and current as they were
version_added: 0.4.0
description:
  - Works on the layout of M(webstack.circus.app_release) (C(releases/ID), C(current),
    C(deploy-state.json)) and on the Circus watcher whose C(working_dir) is in C(current),
    as the P(webstack.circus.django_app#role) role writes it.
  - Where C(deploy-state.json) records that the workers were loaded with O(loaded) and
    C(current) names O(release), only the number of processes is brought to
    O(numprocesses).
  - Otherwise the workers move, in one call. The number of processes is set first, on the
    release they run. Then C(current) is pointed at O(release) and the watcher reloaded
    with a surge, as M(webstack.circus.circus_watcher) does with its C(surge) option;
    new processes start beside the old ones, which serve until every new one is ready.
  - If the new processes are not ready within O(ready_timeout), they are stopped, the old
    ones keep serving, and C(current) and the release history are put back as they were, so
    that a process that circusd starts later (a killed worker's replacement, circusd or the
    host restarted) starts the release the old ones run. The module then fails.
  - Where no worker can run another release (the watcher is stopped, or C(current) named
    O(release) already and no workers were ever recorded loaded, so circusd started them
    on it), there is nothing to keep serving; C(current) is switched, the watcher started,
    and the module waits until its processes are ready, without a second load.
  - While they move, C(deploy-state.json) records that the move has not finished, so a run
    that stops half-way moves them again next time. Recording O(loaded) once the app
    answers is left to M(webstack.circus.app_release) (its C(state=loaded)).
author:
  - webstack.circus maintainers (@webstack)
options:
  path:
    description: The app's home, where C(releases/), C(current) and C(deploy-state.json) are.
    type: path
    required: true
  release:
    description: The release (16 hexadecimal digits) the workers must run, on the host.
    type: str
    required: true
  loaded:
    description:
      - What the workers run once moved, as recorded in C(deploy-state.json) (the release
        and whatever else makes them load again, such as a digest of their environment).
      - The workers move whenever the record differs from it.
    type: str
    required: true
  name:
    description: The watcher of the app's workers.
    type: str
    required: true
  numprocesses:
    description: How many processes the watcher runs. If not set, as many as it is configured with.
    type: int
  ready_dir:
    description:
      - A directory where each process writes an empty file named after its pid once it
        can serve, as for M(webstack.circus.circus_watcher). Without it a process is ready
        once circusd has started it (after the watcher's C(warmup_delay)).
    type: path
  ready_timeout:
    description: How many seconds the new processes have to become ready.
    type: int
    default: 60
extends_documentation_fragment:
  - webstack.circus.circusctl
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Shows the release C(current) names and what the workers are recorded to run.
  platform:
    platforms: posix
seealso:
  - module: webstack.circus.app_release
  - module: webstack.circus.circus_watcher
"""

EXAMPLES = r"""
- name: Move the web workers to the new release, old ones serving until the new ones are ready
  webstack.circus.app_workers:
    path: /srv/shop
    release: 0123456789abcdef
    loaded: 0123456789abcdef+5f1c0a9e2b7d
    name: shop
    numprocesses: 4
    ready_dir: /srv/shop/ready
    endpoint: ipc:///run/circus/circusd.sock
    circusctl_path: /opt/circus/bin/circusctl
"""

RETURN = r"""
moved:
  description: Whether the workers were moved (or, in check mode, would be) to O(release).
  returned: always
  type: bool
current:
  description: The release C(current) names after the module ran (in check mode, would name).
  returned: always
  type: str
  sample: 0123456789abcdef
previous:
  description: The release C(current) named before the module ran, or an empty string.
  returned: always
  type: str
  sample: fedcba9876543210
restored:
  description:
    - When moving failed, whether C(current) and the history were put back on RV(previous),
      the release the old processes serve.
  returned: failure
  type: bool
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["set shop numprocesses 4", "current -> 0123456789abcdef", "incr shop 4", "decr shop 4"]
pids:
  description: The watcher's live process ids after the module ran; in check mode, the current ones.
  returned: always
  type: list
  elements: int
started_pids:
  description: The processes a surge started and kept.
  returned: always
  type: list
  elements: int
stopped_pids:
  description: The processes a surge stopped (the old ones; on failure, the new ones).
  returned: always
  type: list
  elements: int
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    CONNECTION_ARGUMENT_SPEC,
    RUNNING_STATES,
    CircusClient,
    CircusError,
)
from ansible_collections.webstack.circus.plugins.module_utils.releases import (
    RELEASE_ID,
    current_release,
    present_releases,
    read_state,
    switch_current,
    with_current,
    write_state,
)
from ansible_collections.webstack.circus.plugins.module_utils.watcher import (
    ReadyDir,
    always_ready,
    apply_changes,
    describe,
    plan_changes,
    wait_until_ready,
)

UNFINISHED = "unknown: a reload to {} has not finished"


def plan_move(watcher, recorded_loaded, current, release, loaded, numprocesses):
    """The steps that bring the workers to the release, in order: the watcher's changes
    (as circus_watcher plans them), ("switch", RELEASE) to point current at it and record
    the move as unfinished, and ("wait", N) for N ready processes.

    Where the record holds, only the number of processes changes. Where no process can
    run another release, the watcher starts on it. Otherwise the old processes get their
    number on their release, then a surge moves them."""
    target = watcher["numprocesses"] if numprocesses is None else numprocesses
    start = plan_changes(watcher, "started", numprocesses)
    if recorded_loaded == loaded and current == release:
        return start
    switch = [("switch", release)]
    serving = watcher["status"] in RUNNING_STATES and target > 0
    if not serving or (current == release and not recorded_loaded):
        return [*switch, *start, ("wait", target)]
    scale = [change for change in start if change[0] == "numprocesses"]
    return [*scale, *switch, ("surge", target)]


def describe_steps(name, steps):
    described = []
    for command, value in steps:
        if command == "switch":
            described.append(f"current -> {value}")
        elif command == "wait":
            described.append(f"wait until {value} processes of {name} are ready")
        else:
            described += describe(name, [(command, value)])
    return described


class Releases:
    """current and the history of the app's home, switched and put back."""

    def __init__(self, home):
        self.home = home
        self.state = read_state(home)
        self.current = current_release(home)

    def switch(self, release, loaded):
        """Record the move as unfinished and point current at release."""
        history = with_current(self.state["history"], release)
        write_state(self.home, dict(history=history, loaded=UNFINISHED.format(loaded)))
        if self.current != release:
            switch_current(self.home, release)

    def put_back(self, old_processes_only):
        """Point current at the release it named before, and the history too. What the
        workers run is recorded as before only when nothing but the old processes runs."""
        if self.current:
            switch_current(self.home, self.current)
        loaded = self.state["loaded"] if old_processes_only else UNFINISHED.format("?")
        write_state(self.home, dict(self.state, loaded=loaded))


def run_steps(client, releases, params, steps):
    """Run the steps; return (stopped, started) pids of a surge. When the surge fails,
    current is put back on the release the old processes run before the error goes on."""
    name = params["name"]
    ready = ReadyDir(params["ready_dir"]) if params["ready_dir"] else always_ready
    stopped, started = [], []
    for command, value in steps:
        if command == "switch":
            releases.switch(value, params["loaded"])
        elif command == "wait":
            wait_until_ready(client, name, value, ready, params["ready_timeout"])
        elif command == "surge":
            try:
                stopped, started = apply_changes(client, name, [(command, value)], params)
            except CircusError as e:
                after = e.details.get("pids")
                old = set(e.details.get("old_pids", []))
                releases.put_back(old_processes_only=after is not None and set(after) <= old)
                raise
        else:
            apply_changes(client, name, [(command, value)], params)
    return stopped, started


def check_params(module):
    params = module.params
    if not RELEASE_ID.match(params["release"]):
        module.fail_json(msg=f"release must be 16 hexadecimal digits, got {params['release']!r}")
    if params["numprocesses"] is not None and params["numprocesses"] < 0:
        module.fail_json(msg=f"numprocesses must be 0 or more, got {params['numprocesses']}")
    if params["ready_timeout"] < 1:
        module.fail_json(
            msg=f"ready_timeout must be at least 1 second, got {params['ready_timeout']}"
        )
    if params["ready_dir"] and not os.path.isdir(params["ready_dir"]):
        module.fail_json(msg=f"ready_dir {params['ready_dir']} is not a directory")
    # In check mode the release may be one that this run would build first.
    if not module.check_mode and params["release"] not in present_releases(params["path"]):
        module.fail_json(
            msg=f"no release {params['release']} in {params['path']}/releases "
            "to move the workers to"
        )


def main():
    argument_spec = dict(
        path=dict(type="path", required=True),
        release=dict(type="str", required=True),
        loaded=dict(type="str", required=True),
        name=dict(type="str", required=True),
        numprocesses=dict(type="int"),
        ready_dir=dict(type="path"),
        ready_timeout=dict(type="int", default=60),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    check_params(module)
    params = dict(module.params, wait=True, sequential=False)
    home, release, name = params["path"], params["release"], params["name"]

    releases = Releases(home)
    client = CircusClient.from_module(module)
    result = dict(previous=releases.current, stopped_pids=[], started_pids=[])
    try:
        watcher = client.watcher(name)
        steps = plan_move(
            watcher,
            releases.state["loaded"],
            releases.current,
            release,
            params["loaded"],
            params["numprocesses"],
        )
        pids = watcher["pids"]
        if steps and not module.check_mode:
            stopped, started = run_steps(client, releases, params, steps)
            result.update(stopped_pids=stopped, started_pids=started)
            pids = client.pids(name)
    except CircusError as e:
        current = current_release(home)
        restored = bool(releases.current) and current == releases.current != release
        module.fail_json(
            msg=f"watcher {name}: {e.message}"
            + (f"; current is back on {current}, the release they run" if restored else ""),
            name=name,
            endpoint=client.endpoint,
            restored=restored,
            current=current,
            **dict(result, **e.details),
        )

    moved = any(command == "switch" for command, _value in steps)
    result.update(
        changed=bool(steps),
        moved=moved,
        current=release if moved else releases.current,
        actions=describe_steps(name, steps),
        pids=pids,
    )
    if module._diff:
        result["diff"] = dict(
            before=dict(current=releases.current, loaded=releases.state["loaded"]),
            after=dict(
                current=result["current"],
                loaded=UNFINISHED.format(params["loaded"]) if moved else releases.state["loaded"],
            ),
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
