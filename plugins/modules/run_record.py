#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: run_record
short_description: Tell whether a host still runs what a role's last complete run left
version_added: 1.0.0
description:
  - A role's last step records, in one file on the host, a fingerprint of what it was
    asked to converge to (its variables and its own code), a digest of its secret values
    and the digest of every file it manages. Its first step reads that record back and
    checks it against the host.
  - The digests of the secret values and of the files are keyed by a random key kept on
    the host (O(digest_key), root's only), so that neither the record, nor a diff, nor a
    log lets anyone test guesses of a password offline.
  - O(state=read) changes nothing but making that key when the host has none. The host
    has converged (RV(converged)) when the record exists, its fingerprint equals
    O(fingerprint), its digest of the secret values is that of O(secrets), every recorded
    file still has its recorded content, every unit in O(units) is active, and every
    Circus watcher in O(watchers) is active (not stopped, say by the flapping plugin).
    RV(reasons) says why not.
    A role skips its work on a converged host, which makes a run that changes nothing
    cost a few round trips instead of one per task.
  - RV(values_recorded) says whether the last complete run had O(fingerprint) and
    O(secrets). A role that checked its variables in that run need not check the same
    values with the same code again.
  - O(state=present) writes the record, in one rename, with the digests of O(files) as
    they are now.
  - RV(differing_files) lists the recorded files whose content differs from the record, such
    as a file written by a run that failed before the service was restarted, or edited by
    hand. A role restarts or reloads its service for them.
author:
  - webstack.circus maintainers (@webstack)
options:
  path:
    description: The record file. Its directory is created (C(0755)) when missing.
    type: path
    required: true
  state:
    description: Read and check the record, or write it.
    type: str
    choices: [read, present]
    default: read
  fingerprint:
    description:
      - What the role converges to, as one string (the role hashes it). Logs show it, so
        leave the secret values out of it and give them in O(secrets).
      - Required unless O(role) is given.
    type: str
  role:
    description:
      - A role of this collection whose record this is (V(circus), V(django_app),
        V(nginx_proxy)), for a task of that role. The action plugin then computes
        O(fingerprint) on the controller, from every variable named C(ROLE_*) as the task
        sees it but those of O(secret_names), the role's files, the collection's plugins
        and the host's Debian release, and gives O(secrets) from O(secret_names).
      - With O(role), reads are shared within a run through the host's
        C(__webstack_reads) fact (see O(step)).
    type: str
  secret_names:
    description: With O(role), the role's variables whose values are secrets (see O(secrets)).
    type: list
    elements: str
    default: []
  step:
    description:
      - With O(role), which step of the role this is.
      - V(preflight), the read before the variables are checked (lazy, see O(lazy)); the
        read is remembered in the C(__webstack_reads) fact.
      - V(read), the role's own read; it takes the preflight's read instead of asking the
        host again when that read was made with the same values and secrets and the host had
        converged. When the host has not converged, every remembered read is forgotten (the
        role will change the host). RV(checked) says whether this run's preflight checked
        these values.
      - V(forget), forget every remembered read without asking the host (the role changes it).
      - V(record), write the record (O(state=present)).
    type: str
    choices: [preflight, read, forget, record]
    default: read
  secrets:
    description:
      - The role's secret values (passwords, keys, URLs with credentials), never logged.
        The record keeps their keyed digest only.
    type: raw
  digest_key:
    description: The host's digest key, made (C(0600)) when missing.
    type: path
    default: /var/lib/webstack/records/.digest-key
  files:
    description: With O(state=present), the files whose content the record keeps.
    type: list
    elements: path
    default: []
  units:
    description: With O(state=read), the systemd units that must be active.
    type: list
    elements: str
    default: []
  watchers:
    description:
      - With O(state=read), the Circus watchers that must be active, asked of circusd
        (one C(circusctl status)) only when everything else holds.
      - O(endpoint), O(circusctl_path) and O(timeout) say how to reach circusd.
    type: list
    elements: str
    default: []
  lazy:
    description:
      - With O(state=read), ask systemd about O(units) only when everything else holds, as
        for O(watchers). RV(units) is then empty on a host that has not converged anyway.
      - For a read made before the variables are checked (the roles' preflight), which needs
        RV(values_recorded), and RV(converged) to stand for the role's own read.
    type: bool
    default: false
extends_documentation_fragment:
  - webstack.circus.circusctl
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the recorded fingerprint and keyed digests before and after.
  platform:
    platforms: posix
notes:
  - The record is root's only (C(0600)), and its digests are keyed by the host.
  - Only what the record names is checked. Ownership and modes, and files the role does
    not list, are set again by the next run that does not skip (a changed variable, a
    changed file, or a role variable that turns the skip off).
"""

EXAMPLES = r"""
- name: Read whether circusd still runs what the last run left
  webstack.circus.run_record:
    path: /var/lib/webstack/circus.json
    fingerprint: "{{ circus_vars_and_code | to_json | hash('sha256') }}"
    secrets: "{{ circus_pip_index_url }}"
    units: [circusd]
  register: circus_record

- name: Read whether the app still runs what the last run left, its workers included
  webstack.circus.run_record:
    path: /var/lib/webstack/records/django_app-shop.json
    fingerprint: "{{ shop_vars_and_code | to_json | hash('sha256') }}"
    units: [circusd]
    watchers: [shop, shop-celery]
    endpoint: ipc:///run/circus/circusd.sock
    circusctl_path: /opt/circus/bin/circusctl
  register: shop_record

- name: Record what circusd now runs
  webstack.circus.run_record:
    path: /var/lib/webstack/circus.json
    state: present
    fingerprint: "{{ circus_vars_and_code | to_json | hash('sha256') }}"
    secrets: "{{ circus_pip_index_url }}"
    files: [/etc/circus/circus.ini, /etc/systemd/system/circusd.service]
"""

RETURN = r"""
checked:
  description: With O(role), whether this run's preflight checked these values and secrets.
  returned: with O(role), for O(step=preflight) and O(step=read)
  type: bool
reused:
  description: With O(role), whether the preflight's read was taken instead of asking the host.
  returned: with O(role), for O(step=preflight) and O(step=read)
  type: bool
checks:
  description:
    - With O(role), a digest of the values and secrets, keyed by the controller (a file
      under C(~/.cache/webstack.circus)).
  returned: with O(role), for O(step=preflight) and O(step=read)
  type: str
converged:
  description:
    - Whether the host still runs what the record says (always false with O(state=present)).
  returned: always
  type: bool
  sample: true
reasons:
  description: Why the host has not converged, one sentence each; empty when it has.
  returned: always
  type: list
  elements: str
  sample: ["/etc/circus/circus.ini changed since the last complete run", "circusd is inactive"]
differing_files:
  description:
    - The files of the record whose content differs from their recorded digest (with
      O(state=present), of the previous record, before it is replaced). Files the record
      does not hold yet are not listed.
  returned: always
  type: list
  elements: str
  sample: [/etc/circus/circus.ini]
values_recorded:
  description:
    - With O(state=read), whether the record exists with O(fingerprint) and the digest of
      O(secrets), whatever the files, units and watchers are now.
  returned: always
  type: bool
  sample: true
units:
  description:
    - With O(state=read), each unit of O(units) (none with O(lazy) on a host that has not
      converged) with its systemd C(load) state (C(not-found)
      when it is not installed, which check mode on a fresh host needs to know) and its
      C(active) state. Empty with O(state=present).
  returned: always
  type: dict
  sample: {"circusd": {"load": "loaded", "active": "active"}}
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    CONNECTION_ARGUMENT_SPEC,
    CircusClient,
    CircusError,
)
from ansible_collections.webstack.circus.plugins.module_utils.host_digest import (
    KEY_PATH,
    file_digest,
    host_key,
    value_digest,
)


def read_record(path):
    """The record at path, or None when there is none (or it cannot be parsed)."""
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        return None
    return record


def unconverged_reasons(record, fingerprint, secrets, checksums, unit_states):
    """Why a host with this record, these digests and unit states has not converged."""
    if record is None:
        return ["no complete run is recorded"]
    reasons = []
    if record.get("fingerprint") != fingerprint:
        reasons.append("the role's variables or code changed since the last complete run")
    if record.get("secrets") != secrets:
        reasons.append("the role's secret values changed since the last complete run")
    for path, recorded in sorted(record["files"].items()):
        if not checksums[path]:
            reasons.append(f"{path} is missing")
        elif checksums[path] != recorded:
            reasons.append(f"{path} changed since the last complete run")
    for unit, state in unit_states.items():
        if state["load"] == "not-found":
            reasons.append(f"{unit} is not installed")
        elif state["active"] != "active":
            reasons.append(f"{unit} is {state['active']}")
    return reasons


def differing_files(record, checksums):
    """The recorded files whose checksum differs from the record's."""
    recorded = record["files"] if record else {}
    return sorted(
        path for path, value in checksums.items() if path in recorded and recorded[path] != value
    )


def parse_units(units, out):
    """Each unit's LoadState and ActiveState from `systemctl show` (one block per unit)."""
    blocks = [block for block in out.strip().split("\n\n") if block.strip()]
    if len(blocks) != len(units):
        return None
    states = {}
    for unit, block in zip(units, blocks):
        properties = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        states[unit] = dict(
            load=properties.get("LoadState", ""), active=properties.get("ActiveState", "")
        )
    return states


def unit_states(module, units):
    """Each unit's LoadState ("loaded", "not-found", ...) and ActiveState ("active",
    "inactive", "failed", ...), in one systemctl call."""
    if not units:
        return {}
    systemctl = module.get_bin_path("systemctl", required=True)
    rc, out, err = module.run_command(
        [systemctl, "show", "--property=LoadState,ActiveState", "--", *units],
        environ_update={"LC_ALL": "C"},
    )
    if rc != 0:
        module.fail_json(msg=f"systemctl show failed: {err.strip()}", rc=rc, stdout=out, stderr=err)
    states = parse_units(units, out)
    if states is None:
        module.fail_json(
            msg=f"systemctl show did not answer for each of {', '.join(units)}", stdout=out
        )
    return states


def watcher_reasons(client, watchers):
    """Why the watchers circusd runs are not as the record left them: one that is not
    active, or that circusd has not loaded; circusd not answering."""
    try:
        statuses = client.call("status").get("statuses", {})
    except CircusError as e:
        return [f"circusd did not tell the watchers' states: {e}"]
    reasons = []
    for name in watchers:
        if name not in statuses:
            reasons.append(f"watcher {name} is not loaded by circusd")
        elif statuses[name] != "active":
            reasons.append(f"watcher {name} is {statuses[name]}")
    return reasons


def write_record(path, record):
    """Replace the record in one rename, root's only."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".run-record.")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(record, out, indent=1, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["read", "present"], default="read"),
            fingerprint=dict(type="str", no_log=False),
            # Taken by the action plugin (plugins/action/run_record.py).
            role=dict(type="str"),
            secret_names=dict(type="list", elements="str", default=[], no_log=False),
            step=dict(
                type="str", choices=["preflight", "read", "forget", "record"], default="read"
            ),
            secrets=dict(type="raw", no_log=True),
            digest_key=dict(type="path", default=KEY_PATH, no_log=False),
            files=dict(type="list", elements="path", default=[]),
            units=dict(type="list", elements="str", default=[]),
            watchers=dict(type="list", elements="str", default=[]),
            lazy=dict(type="bool", default=False),
            **CONNECTION_ARGUMENT_SPEC,
        ),
        supports_check_mode=True,
    )
    path, fingerprint = module.params["path"], module.params["fingerprint"]
    if fingerprint is None:
        module.fail_json(msg="fingerprint is required (or role, for a role of this collection)")
    record = read_record(path)
    result = dict(
        changed=False,
        converged=False,
        values_recorded=False,
        reasons=[],
        differing_files=[],
        units={},
    )
    # Check mode on a fresh host makes no key: there is no record to compare with either.
    key = host_key(module.params["digest_key"], create=not module.check_mode)
    if key is None:
        key, record = b"", None
    secrets = value_digest(key, module.params["secrets"])

    if module.params["state"] == "read":
        files = record["files"] if record else {}
        checksums = {file: file_digest(key, file) for file in files}
        units = module.params["units"]
        # A lazy read asks systemd, like circusd below, only of a host that holds otherwise.
        if module.params["lazy"] and unconverged_reasons(
            record, fingerprint, secrets, checksums, {}
        ):
            units = []
        result["units"] = unit_states(module, units)
        result["reasons"] = unconverged_reasons(
            record, fingerprint, secrets, checksums, result["units"]
        )
        # Asked only of a host that holds otherwise: a run that does the work anyway
        # starts the watchers, and circusd may not even be installed yet.
        if not result["reasons"] and module.params["watchers"]:
            client = CircusClient.from_module(module)
            result["reasons"] = watcher_reasons(client, module.params["watchers"])
        result["converged"] = not result["reasons"]
        result["values_recorded"] = bool(record) and (
            record.get("fingerprint"),
            record.get("secrets"),
        ) == (fingerprint, secrets)
        result["differing_files"] = differing_files(record, checksums)
        module.exit_json(**result)

    checksums = {file: file_digest(key, file) for file in module.params["files"]}
    missing = sorted(file for file, value in checksums.items() if not value)
    # In check mode a fresh host has not got the files the real run would write.
    if missing and not module.check_mode:
        module.fail_json(msg=f"cannot record files that do not exist: {', '.join(missing)}")
    wanted = dict(fingerprint=fingerprint, secrets=secrets, files=checksums)
    before = {name: record.get(name) for name in wanted} if record else {}
    result["differing_files"] = differing_files(record, checksums)
    result["changed"] = before != wanted
    if result["changed"] and not module.check_mode:
        write_record(path, wanted)
    if module._diff:
        result["diff"] = dict(
            before=json.dumps(before, indent=1, sort_keys=True) + "\n" if before else "",
            after=json.dumps(wanted, indent=1, sort_keys=True) + "\n",
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
