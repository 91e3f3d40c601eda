#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_workers
short_description: Move an app's workers and programs to a release, or leave them as they were
version_added: 1.0.0
description:
  - Works on the layout of M(webstack.circus.app_release) (C(releases/ID), C(current),
    C(deploy-state.json)) and on the Circus watcher whose C(working_dir) is in C(current),
    as the P(webstack.circus.django_app#role) role writes it; in one call, in this order.
  - Where C(deploy-state.json) records that the workers were loaded with O(loaded) and
    C(current) names O(release), nothing moves; the numbers of processes are brought to
    O(numprocesses) and each program's.
  - Otherwise, first, O(commands) run in the release's C(app/) (migrations, the app's own
    upgrade steps) and its static files are copied into O(static_root). A command that
    fails stops everything there, before any worker has moved.
  - With O(switch_first), C(current) is pointed at O(release) before circusd reads its
    files (O(reload_config)), so that the processes it starts or restarts because their
    file changed start the release.
  - The web workers move. The number of processes is set first, on the release they run.
    Then C(current) is pointed at O(release) and the watcher reloaded with a surge, as
    M(webstack.circus.circus_watcher) does with its C(surge) option; new processes start
    beside the old ones, which serve until every new one is ready.
  - If the new processes are not ready within O(ready_timeout), they are stopped, the old
    ones keep serving, and C(current) and the release history are put back as they were, so
    that a process that circusd starts later (a killed worker's replacement, circusd or the
    host restarted) starts the release the old ones run. The module then fails.
  - Where no worker can run another release (the watcher is stopped, or C(current) named
    O(release) already and no workers were ever recorded loaded, so circusd started them
    on it), there is nothing to keep serving; C(current) is switched, the watcher started,
    and the module waits until its processes are ready, without a second load.
  - Then each program of O(programs) moves (a surge or a restart, as its C(reload) says),
    unless circusd has just started it on the release.
  - Last, O(health_url) must answer 200, and with O(keep) what the workers run is recorded
    and the releases beyond the O(keep) newest are deleted (as M(webstack.circus.app_release)
    does with C(state=loaded)). While they move, C(deploy-state.json) records that the move
    has not finished, so a run that stops half-way moves them again next time.
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
    description:
      - How many seconds the new processes have at least to become ready.
      - They have three times as long as the last load of the web workers took, where
        that is longer (recorded in C(deploy-state.json) with what they run), so that an
        app that loads slowly, or a host under load, does not fail a deploy that would
        have succeeded. RV(ready_timeout) says what this call allowed.
    type: int
    default: 60
  commands:
    description:
      - Commands (each a list of arguments, no shell) run in the release's C(app/) (or
        C(app/PROJECT_DIR)) before the workers move, and only when they move, such as
        V([python, -m, django, migrate, --noinput]), in order. Each runs behind O(run_as),
        with the release's virtualenv first in E(PATH) (then
        C(/usr/local/bin:/usr/bin:/bin)).
    type: list
    elements: list
    default: []
  project_dir:
    description:
      - The Django project's directory inside the release's C(app/), where O(commands) run.
    type: str
    default: ""
  static_root:
    description:
      - Where the release's C(static/) is copied before the workers move, over the files of
        the releases before it (pages still served by old workers find theirs).
    type: path
  switch_first:
    description: Point C(current) at O(release) before circusd reads its files.
    type: bool
    default: false
  reload_config:
    description: Make circusd read its files again (C(reloadconfig)) before the workers move.
    type: bool
    default: false
  programs:
    description: The app's other watchers, named C(NAME-PROGRAM), moved after the web workers.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The program's name; its watcher is C(NAME-PROGRAM).
        type: str
        required: true
      numprocesses:
        description: How many processes it runs.
        type: int
        default: 1
      reload:
        description:
          - V(restart) stops the old processes before new ones start.
          - V(surge) starts the new ones first.
        type: str
        choices: [restart, surge]
        default: restart
  new_programs:
    description:
      - The programs whose file is new, which circusd starts on O(release) when
        O(switch_first) is set.
    type: list
    elements: str
    default: []
  health_url:
    description: A URL that must answer 200 once the workers run the release (tried once a second).
    type: str
  health_retries:
    description: How many times O(health_url) is tried.
    type: int
    default: 30
  keep:
    description:
      - Record O(loaded) once everything moved and O(health_url) answered, and keep this
        many releases (at least 2). Without it nothing is recorded or deleted.
    type: int
extends_documentation_fragment:
  - webstack.circus.circusctl
  - webstack.circus.app_commands
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
ready_timeout:
  description: The seconds new processes had to become ready in this call (see O(ready_timeout)).
  returned: always
  type: int
  sample: 60
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
output:
  description:
    - The O(commands) that ran, each as a line C($ COMMAND) followed by the last lines of
      its output (O(hide) values masked).
  returned: always
  type: list
  elements: str
removed:
  description: The releases deleted (with O(keep)).
  returned: always
  type: list
  elements: str
"""

import math
import os
import shutil
import time
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    CONNECTION_ARGUMENT_SPEC,
    RUNNING_STATES,
    CircusClient,
    CircusError,
    WatcherNotFound,
)
from ansible_collections.webstack.circus.plugins.module_utils.releases import (
    APP_COMMANDS_ARGUMENT_SPEC,
    RELEASE_ID,
    app_command,
    current_release,
    output_lines,
    present_releases,
    read_state,
    record_loaded,
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
HEALTH_TIMEOUT = 10


class DeployError(Exception):
    pass


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


def plan_program(watcher, program, moving, started_on_release):
    """A program's changes: its number of processes, and, when the web workers move, a
    surge or a restart onto the release, unless circusd just started it there."""
    if not moving or started_on_release:
        return plan_changes(watcher, "started", program["numprocesses"])
    surge = program["reload"] == "surge"
    return plan_changes(
        watcher, "reloaded" if surge else "restarted", program["numprocesses"], surge=surge
    )


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
        self.restored = False
        self.settled = False

    def switch(self, release, loaded):
        """Record the move as unfinished and point current at release."""
        history = with_current(self.state["history"], release)
        write_state(self.home, dict(history=history, loaded=UNFINISHED.format(loaded)))
        if current_release(self.home) != release:
            switch_current(self.home, release)

    def settle(self, release, loaded):
        """Take current on release as where the processes are (circusd restarted them on
        it): a failure from here on has nothing to put back."""
        self.switch(release, loaded)
        self.current = release
        self.state = read_state(self.home)
        self.settled = True

    def put_back(self, old_processes_only):
        """Point current at the release it named before, and the history too. What the
        workers run is recorded as before only when nothing but the old processes runs."""
        if self.current:
            switch_current(self.home, self.current)
        loaded = self.state["loaded"] if old_processes_only else UNFINISHED.format("?")
        write_state(self.home, dict(self.state, loaded=loaded))
        self.restored = bool(self.current) and not self.settled


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


def run_command(module, command, cwd, argv):
    """Run command (argv behind what runs it as the app); its output, or a DeployError
    naming argv."""
    rc, out, err = module.run_command(command, cwd=cwd)
    if rc != 0:
        raise DeployError(f"{' '.join(argv)} failed (rc {rc}): {(err or out).strip()[-2000:]}")
    return out


def publish_static(release_static, static_root):
    """Copy the release's static files over those of the releases before it (root's
    copies: a file there is replaced, not written into)."""
    for directory, subdirectories, files in os.walk(release_static):
        relative = os.path.relpath(directory, release_static)
        target = os.path.normpath(os.path.join(static_root, relative))
        os.makedirs(target, mode=0o755, exist_ok=True)
        for name in files:
            source, destination = os.path.join(directory, name), os.path.join(target, name)
            if os.path.lexists(destination):
                os.unlink(destination)
            shutil.copy2(source, destination, follow_symlinks=False)
        for name in subdirectories:
            if os.path.islink(os.path.join(directory, name)):
                destination = os.path.join(target, name)
                if os.path.lexists(destination):
                    os.unlink(destination)
                shutil.copy2(os.path.join(directory, name), destination, follow_symlinks=False)


def answers(url, retries, sleep=time.sleep):
    """Whether url answers 200 within retries tries a second apart; the last answer."""
    last = ""
    for attempt in range(retries):
        if attempt:
            sleep(1)
        try:
            # The app's own socket: never through a proxy the host's environment names.
            with open_url(url, timeout=HEALTH_TIMEOUT, use_proxy=False) as response:
                if response.status == 200:
                    return True, "200"
                last = str(response.status)
        except urllib.error.HTTPError as e:
            last = str(e.code)
        except (urllib.error.URLError, OSError, UrlConnectionError) as e:
            last = str(getattr(e, "reason", e))
    return False, last


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
    if params["keep"] is not None and params["keep"] < 2:
        module.fail_json(msg=f"keep must be 2 or more, got {params['keep']}")
    if params["health_retries"] < 1:
        module.fail_json(msg=f"health_retries must be 1 or more, got {params['health_retries']}")
    for program in params["programs"]:
        if program["numprocesses"] < 0:
            module.fail_json(msg=f"programs: {program['name']} numprocesses must be 0 or more")
    # In check mode the release may be one that this run would build first.
    if not module.check_mode and params["release"] not in present_releases(params["path"]):
        module.fail_json(
            msg=f"no release {params['release']} in {params['path']}/releases "
            "to move the workers to"
        )


class Deploy:
    """The steps of one call, in order; each records what it did in self.result."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = dict(module.params, wait=True, sequential=False)
        self.home, self.release = self.params["path"], self.params["release"]
        self.releases = Releases(self.home)
        self.code = os.path.join(self.home, "releases", self.release)
        self.moving = (
            self.releases.state["loaded"] != self.params["loaded"]
            or self.releases.current != self.release
        )
        self.actions = []
        # How long the web workers' load took in this call, recorded with them: the next
        # call gives new workers at least three times as long (ready_timeout).
        self.load_seconds = None
        recorded = self.releases.state.get("load_seconds", 0)
        self.params["ready_timeout"] = max(self.params["ready_timeout"], math.ceil(3 * recorded))
        self.result = dict(
            previous=self.releases.current,
            stopped_pids=[],
            started_pids=[],
            removed=[],
            output=[],
            ready_timeout=self.params["ready_timeout"],
        )

    def act(self, description):
        """Record the action; whether to carry it out (not in check mode)."""
        self.actions.append(description)
        return not self.module.check_mode

    def watcher(self, name):
        """The watcher's state; in check mode, one that circusd has not read yet (its file
        is new in this run) counts as stopped."""
        try:
            return self.client.watcher(name)
        except WatcherNotFound:
            if not self.module.check_mode:
                raise
            return dict(status="stopped", numprocesses=0, pids=[])

    def prepare(self):
        """Before any worker moves: the commands, the static files, then circusd's files."""
        params = self.params
        if self.moving:
            for argv in params["commands"]:
                if self.act(" ".join(argv)):
                    cwd = os.path.normpath(os.path.join(self.code, "app", params["project_dir"]))
                    out = run_command(
                        self.module, app_command(params["run_as"], self.code, argv), cwd, argv
                    )
                    self.result["output"].extend(output_lines(argv, out))
            static_root = params["static_root"]
            if static_root and self.act(f"publish the static files in {static_root}"):
                publish_static(os.path.join(self.code, "static"), static_root)
        # What the web workers' move is planned from: the record as it was, and where
        # current is once circusd has read its files.
        self.plan_loaded, self.plan_current = self.releases.state["loaded"], self.releases.current
        self.switched_first = params["switch_first"] and self.releases.current != self.release
        if self.switched_first and self.act(f"current -> {self.release}"):
            # The processes that reloadconfig starts or restarts start on the release.
            self.releases.settle(self.release, params["loaded"])
            self.plan_current = self.release
        if params["reload_config"] and self.act("reloadconfig"):
            self.client.call("reloadconfig", "--waiting")

    def move_web(self):
        params, name = self.params, self.params["name"]
        watcher = self.watcher(name)
        steps = plan_move(
            watcher,
            self.plan_loaded,
            self.plan_current,
            self.release,
            params["loaded"],
            params["numprocesses"],
        )
        self.actions += describe_steps(name, steps)
        self.moved = self.switched_first or any(step[0] == "switch" for step in steps)
        pids = watcher["pids"]
        if steps and not self.module.check_mode:
            loading = any(step[0] in ("surge", "wait") for step in steps)
            started_at = time.monotonic()
            stopped, started = run_steps(self.client, self.releases, params, steps)
            if loading:
                self.load_seconds = time.monotonic() - started_at
            self.result.update(stopped_pids=stopped, started_pids=started)
            pids = self.client.pids(name)
        self.result["pids"] = pids

    def move_programs(self):
        params = dict(self.params, ready_dir=None)
        for program in self.params["programs"]:
            name = f"{self.params['name']}-{program['name']}"
            started_here = self.switched_first and program["name"] in self.params["new_programs"]
            changes = plan_program(self.watcher(name), program, self.moving, started_here)
            self.actions += describe(name, changes)
            if changes and not self.module.check_mode:
                apply_changes(self.client, name, changes, params)

    def finish(self):
        params = self.params
        url = params["health_url"]
        if url and self.act(f"GET {url}"):
            ok, last = answers(url, params["health_retries"])
            if not ok:
                raise DeployError(
                    f"{url} did not answer 200 in {params['health_retries']} tries (last: {last})"
                )
        if params["keep"] is not None:
            changed, removed, _venvs = record_loaded(
                self.home,
                params["loaded"],
                params["keep"],
                self.release,
                self.module.check_mode,
                self.load_seconds,
            )
            if changed:
                self.actions.append(f"record {params['loaded']} loaded")
            self.result["removed"] = removed


def main():
    argument_spec = dict(
        path=dict(type="path", required=True),
        release=dict(type="str", required=True),
        loaded=dict(type="str", required=True),
        name=dict(type="str", required=True),
        numprocesses=dict(type="int"),
        ready_dir=dict(type="path"),
        ready_timeout=dict(type="int", default=60),
        commands=dict(type="list", elements="list", default=[]),
        project_dir=dict(type="str", default=""),
        static_root=dict(type="path"),
        switch_first=dict(type="bool", default=False),
        reload_config=dict(type="bool", default=False),
        programs=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                name=dict(type="str", required=True),
                numprocesses=dict(type="int", default=1),
                reload=dict(type="str", choices=["restart", "surge"], default="restart"),
            ),
        ),
        new_programs=dict(type="list", elements="str", default=[]),
        health_url=dict(type="str"),
        health_retries=dict(type="int", default=30),
        keep=dict(type="int"),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC, **APP_COMMANDS_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    check_params(module)
    module.params["commands"] = [[str(arg) for arg in argv] for argv in module.params["commands"]]
    deploy = Deploy(module, CircusClient.from_module(module))
    step = "prepare"
    try:
        # One circusctl for the dozen calls of a move.
        with deploy.client.one_shell():
            deploy.prepare()
            step = "move_web"
            deploy.move_web()
            step = "move_programs"
            deploy.move_programs()
            step = "finish"
            deploy.finish()
    except (CircusError, DeployError, OSError) as e:
        fail(module, deploy, step, e)

    release = deploy.release
    current = release if deploy.moved else deploy.releases.current
    result = dict(
        deploy.result,
        changed=bool(deploy.actions),
        moved=deploy.moved,
        current=current,
        actions=deploy.actions,
    )
    if module._diff:
        recorded = module.params["loaded"] if module.params["keep"] is not None else None
        result["diff"] = dict(
            before=dict(current=result["previous"], loaded=deploy.plan_loaded),
            after=dict(current=current, loaded=recorded or read_state(deploy.home)["loaded"]),
        )
    module.exit_json(**result)


def fail(module, deploy, step, error):
    """Fail with what the host runs now: where the workers could not move, current is
    back on the release the old ones run; a command that failed moved nothing."""
    home, name = deploy.home, deploy.params["name"]
    current = current_release(home)
    message = error.message if isinstance(error, CircusError) else str(error)
    running = deploy.releases.current or "nothing"
    where = {
        "prepare": f"before the workers moved: {message}; they still run {running}",
        "move_web": f"watcher {name}: {message}",
        "move_programs": f"a program of {name}: {message}",
        "finish": f"the workers run {deploy.release}, but {message}",
    }[step]
    if deploy.releases.restored:
        where += f"; current is back on {current}, the release they run"
    details = error.details if isinstance(error, CircusError) else {}
    module.fail_json(
        msg=where,
        name=name,
        endpoint=deploy.client.endpoint,
        restored=deploy.releases.restored,
        current=current,
        actions=deploy.actions,
        **dict(deploy.result, **details),
    )


if __name__ == "__main__":
    main()
