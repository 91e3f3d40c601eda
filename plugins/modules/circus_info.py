#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: circus_info
short_description: Report the watchers, processes and sockets of a running circusd
version_added: 1.0.0
description:
  - Reads, through circusctl, the data that circus-top shows. Every watcher (or one) with its
    status, configured number of processes and live process ids, and optionally per
    process statistics and the sockets that circusd holds.
  - Changes nothing.
author:
  - webstack.circus maintainers (@webstack)
options:
  name:
    description:
      - Report only this watcher. The module fails if circusd has no watcher of that name.
      - If not set, every watcher is reported.
    type: str
  stats:
    description:
      - Also report CPU, memory and age of every process (circusctl C(stats)).
    type: bool
    default: false
  sockets:
    description:
      - Also report the sockets that circusd holds (circusctl C(listsockets)).
    type: bool
    default: false
extends_documentation_fragment:
  - webstack.circus.circusctl
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - This module changes nothing, so it runs the same in check mode.
  diff_mode:
    support: N/A
    details:
      - This module changes nothing.
  platform:
    platforms: posix
notes:
  - Watcher options are not reported, because circusd's C(options) reply carries the
    whole environment of the watcher, secrets included.
seealso:
  - module: webstack.circus.circus_watcher
"""

EXAMPLES = r"""
- name: Read every watcher and the sockets
  webstack.circus.circus_info:
    endpoint: ipc:///run/circus/circusd.sock
    sockets: true
  register: circus

- name: Show the workers of the web app
  ansible.builtin.debug:
    msg: "{{ circus.watchers.web.pids }}"

- name: Memory of each web worker
  webstack.circus.circus_info:
    name: web
    stats: true
  register: web
"""

RETURN = r"""
watchers:
  description: One entry per watcher, keyed by watcher name.
  returned: success
  type: dict
  contains:
    status:
      description: V(active), V(stopped), V(starting) or V(stopping).
      type: str
      sample: active
    numprocesses:
      description: The configured number of processes.
      type: int
      sample: 2
    pids:
      description: Live process ids.
      type: list
      elements: int
      sample: [2405, 2406]
    stats:
      description:
        - One entry per live process, sorted by pid, as circusd reports it. Empty unless
          O(stats=true).
      type: list
      elements: dict
      sample:
        - pid: 2405
          cpu: 0.0
          mem: 0.006
          mem_info1: 1.49M
          mem_info2: 2.44M
          age: 4.17
          cmdline: sleep
          username: root
  sample:
    web:
      status: active
      numprocesses: 2
      pids: [2405, 2406]
      stats: []
sockets:
  description: The sockets circusd holds. Empty unless O(sockets=true).
  returned: success
  type: list
  elements: dict
  sample:
    - name: web
      host: 127.0.0.1
      port: 8000
      fd: 7
      backlog: 2048
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    CONNECTION_ARGUMENT_SPEC,
    CircusClient,
    CircusError,
)


def process_stats(info):
    """circusd keys stats by pid as a string; return them as a list sorted by pid."""
    return [info[pid] for pid in sorted(info, key=int)]


def read_watcher(client, name, with_stats):
    watcher = client.watcher(name)
    watcher["stats"] = process_stats(client.stats(name)) if with_stats else []
    return watcher


def main():
    argument_spec = dict(
        name=dict(type="str"),
        stats=dict(type="bool", default=False),
        sockets=dict(type="bool", default=False),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = CircusClient.from_module(module)
    name = module.params["name"]
    try:
        names = [name] if name else client.watchers()
        watchers = {each: read_watcher(client, each, module.params["stats"]) for each in names}
        sockets = client.sockets() if module.params["sockets"] else []
    except CircusError as e:
        module.fail_json(msg=e.message, endpoint=client.endpoint, **e.details)
    module.exit_json(changed=False, watchers=watchers, sockets=sockets)


if __name__ == "__main__":
    main()
