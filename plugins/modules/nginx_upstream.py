#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_upstream
short_description: Take app servers out of the nginx_proxy role's upstreams, or put them back
version_added: 1.0.0
description:
  - Marks the C(server) lines of the given O(servers) with nginx's C(down) parameter
    (O(state=drained)), or removes it (O(state=enabled)), in every C(upstream webstack_*)
    block of the site files (C(*.conf)) in O(path), the sites the
    P(webstack.circus.nginx_proxy#role) role writes. Other upstreams are left alone.
  - This module is the only writer of the C(down) marks. The role renders the server
    lines and keeps the marks it finds in the files, so a later C(site.yml) run does not
    put back a server that a deploy took out.
  - Server lines are understood whatever the order of their parameters, with C(down)
    anywhere and with a trailing comment.
  - O(state=drained) never takes the last server of an upstream out. That server stays
    up and is reported in RV(kept).
  - A server that matches no server line of any webstack upstream fails the task, naming
    it, before any file changes.
  - A changed file is replaced atomically, keeping its mode and owner. After the files
    are written, O(validate) checks nginx's configuration, then O(reload_command)
    reloads nginx (a graceful reload - requests in flight finish on the old workers, new
    ones go only to the servers left up). If the check refuses the result, the reload
    fails, or anything else fails, every file is put back as it was and the task fails.
  - When nothing changes, nginx is neither checked nor reloaded.
  - With an empty O(servers) nothing changes, and the module only reports the upstreams
    (RV(upstreams)). The role reads the marks this way before it renders the sites.
author:
  - webstack.circus maintainers (@webstack)
options:
  servers:
    description:
      - The app servers, as they appear in the upstreams' C(server) lines. An item is a
        server's host (V(app1), V(10.0.0.5), V([fd00::3])), which matches it on any port,
        or its whole address (V(app1:8000)).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(drained) marks the servers C(down); V(enabled) puts them back.
    type: str
    required: true
    choices: [drained, enabled]
  path:
    description:
      - The directory of the site files, the role's C(sites-available).
    type: path
    default: /etc/nginx/sites-available
  validate:
    description:
      - The command (argv, no shell) that checks nginx's whole configuration after the
        changed files are written. It must exit 0, or every file is put back. An empty
        list is refused.
    type: list
    elements: str
    default: [nginx, -t, -q]
  reload_command:
    description:
      - The command (argv, no shell) that reloads nginx after a successful O(validate).
        If it fails every file is put back.
      - An empty list does not reload; the marks then take effect at nginx's next
        reload.
    type: list
    elements: str
    default: [systemctl, reload, nginx]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is written, checked or reloaded; the result is the one a
        real run would give.
  diff_mode:
    support: full
    details:
      - One diff per changed site file, its whole text before and after.
  platform:
    platforms: posix
notes:
  - Runs on the proxy, usually delegated to each host of the proxy group from a play on
    the app hosts, as C(deploy.yml) does.
"""

EXAMPLES = r"""
- name: Take the batch out of every proxy's upstreams
  webstack.circus.nginx_upstream:
    servers: "{{ ansible_play_batch }}"
    state: drained
  delegate_to: "{{ item }}"
  run_once: true
  loop: "{{ groups['proxy'] }}"

- name: Put one server back, on one port only
  webstack.circus.nginx_upstream:
    servers: [app1:8000]
    state: enabled

- name: Read the marks without changing anything
  webstack.circus.nginx_upstream:
    servers: []
    state: drained
  check_mode: true
  register: marks
"""

RETURN = r"""
sites:
  description: The site files that changed (or would change in check mode), sorted.
  returned: success
  type: list
  elements: str
  sample: [/etc/nginx/sites-available/shop.conf]
kept:
  description:
    - The servers O(state=drained) left up because each was the last one up in its
      upstream, as C(UPSTREAM ADDRESS).
  returned: success
  type: list
  elements: str
  sample: ["webstack_shop app2:8000"]
upstreams:
  description:
    - Every webstack upstream of the site files as it is after the run (in check mode,
      as it would be), by name, with the file it is in and its servers in file order.
      An upstream named in two files is reported from the last one in name order.
  returned: success
  type: dict
  sample:
    webstack_shop:
      file: /etc/nginx/sites-available/shop.conf
      servers:
        - {address: "app1:8000", down: true}
        - {address: "app2:8000", down: false}
"""

import collections
import glob
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

UPSTREAM = re.compile(r"\s*upstream\s+(webstack_\S+)\s*\{\s*(#.*)?\Z")
# server ADDRESS PARAMETERS; # comment
SERVER = re.compile(
    r"(?P<lead>\s*server\s+)(?P<address>[^\s;#]+)(?P<params>[^;#]*);(?P<trail>\s*(#.*)?)\Z"
)
ARGUMENT_SPEC = dict(
    servers=dict(type="list", elements="str", required=True),
    state=dict(type="str", required=True, choices=["drained", "enabled"]),
    # Where the nginx_proxy role writes its sites (its __nginx_proxy_sites_available).
    path=dict(type="path", default="/etc/nginx/sites-available"),
    validate=dict(type="list", elements="str", default=["nginx", "-t", "-q"]),
    reload_command=dict(type="list", elements="str", default=["systemctl", "reload", "nginx"]),
)
UNKNOWN_HINT = (
    "Name each app host in the proxies' upstreams (nginx_proxy_sites upstreams) as "
    "deploy.yml does: its deploy_upstream_host, or its inventory name."
)

Server = collections.namedtuple("Server", "lead address params down trail")
Marked = collections.namedtuple("Marked", "text kept matched upstreams")
Plan = collections.namedtuple("Plan", "changes kept upstreams")


class UnknownServers(Exception):
    """Servers that match no server line of any webstack upstream."""


class ApplyError(Exception):
    """The new files were refused or could not be written; they were put back."""


def host_of(address):
    """The host part of an upstream server address: [v6], name or IPv4, without the port."""
    if address.startswith("["):
        return address[: address.find("]") + 1]
    return address.rsplit(":", 1)[0] if ":" in address else address


def names(address):
    """What a server line's address answers to: itself and its host."""
    return {address, host_of(address)}


def parse_server(line):
    """The Server of a `server ADDRESS [PARAMETERS];` line (down taken out of the
    parameters), or None."""
    match = SERVER.match(line.rstrip("\n"))
    if not match:
        return None
    params = match["params"].split()
    return Server(
        match["lead"],
        match["address"],
        [param for param in params if param != "down"],
        "down" in params,
        match["trail"],
    )


def render_server(server, down, newline):
    words = [server.address, *server.params] + (["down"] if down else [])
    return f"{server.lead}{' '.join(words)};{server.trail}{newline}"


def settle(name, servers, wanted_names, down):
    """{line index: down wanted} of one upstream's servers ({index: Server}), and the
    server kept up (or None): drained never takes the last server out."""
    wanted = {}
    for index, server in servers.items():
        named = bool(names(server.address) & wanted_names)
        wanted[index] = down if named else server.down
    kept = None
    if servers and all(wanted.values()):
        for index, server in servers.items():
            if names(server.address) & wanted_names and not server.down:
                wanted[index] = False
                kept = f"{name} {server.address}"
                break
    return wanted, kept


def mark(text, wanted_names, down):
    """Marked(text with the servers marked down or up, [kept "upstream address"],
    {names matched by a server line of a webstack upstream}, {upstream: [servers after]})."""
    lines = text.splitlines(keepends=True)
    kept, matched, upstreams = [], set(), {}
    name, servers = None, {}
    for index, line in enumerate(lines):
        opening = UPSTREAM.match(line.rstrip("\n"))
        if opening:
            name, servers = opening.group(1), {}
        elif name is not None and line.strip().startswith("}"):
            wanted, kept_server = settle(name, servers, wanted_names, down)
            if kept_server:
                kept.append(kept_server)
            for at, server in servers.items():
                if wanted[at] != server.down:
                    newline = "\n" if lines[at].endswith("\n") else ""
                    lines[at] = render_server(server, wanted[at], newline)
            upstreams[name] = [
                dict(address=server.address, down=wanted[at]) for at, server in servers.items()
            ]
            name = None
        elif name is not None:
            server = parse_server(line)
            if server:
                servers[index] = server
                matched |= names(server.address) & wanted_names
    return Marked("".join(lines), kept, matched, upstreams)


def plan(sites, wanted_names, down):
    """Plan({path: (text before, text after)} of the files that change, [kept servers],
    {upstream: {file, servers}}) from the site texts ({path: text}).
    Raises UnknownServers before anything is written."""
    changes, kept, matched, upstreams = {}, [], set(), {}
    for path in sorted(sites):
        marked = mark(sites[path], wanted_names, down)
        kept += marked.kept
        matched |= marked.matched
        for name, servers in marked.upstreams.items():
            upstreams[name] = dict(file=path, servers=servers)
        if marked.text != sites[path]:
            changes[path] = (sites[path], marked.text)
    unknown = sorted(set(wanted_names) - matched)
    if unknown:
        raise UnknownServers(unknown)
    return Plan(changes, kept, upstreams)


def diffs(changes):
    """One diff per changed file, as Ansible shows them."""
    return [
        dict(before_header=path, after_header=path, before=before, after=after)
        for path, (before, after) in sorted(changes.items())
    ]


def read_sites(directory):
    """{real path: text} of the *.conf files of the directory; none if it does not exist
    (a proxy the role has not configured yet)."""
    paths = sorted(glob.glob(os.path.join(glob.escape(directory), "*.conf")))
    sites = {}
    for path in dict.fromkeys(os.path.realpath(path) for path in paths):
        with open(path) as site:
            sites[path] = site.read()
    return sites


def write_atomically(path, text):
    """Replace path's content in one rename, keeping its mode and owner."""
    status = os.stat(path)
    directory, name = os.path.split(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, status.st_mode & 0o7777)
        os.chown(temporary, status.st_uid, status.st_gid)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    directory_descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_descriptor)
    finally:
        os.close(directory_descriptor)


def replace_keeping_original(path, text):
    """Replace path's content atomically; return a hard link to the original file, which
    puts it back without needing disk space for a copy."""
    directory, name = os.path.split(path)
    original = os.path.join(directory, f".{name}.{os.getpid()}.orig")
    os.link(path, original)
    try:
        write_atomically(path, text)
    except BaseException:
        os.unlink(original)
        raise
    return original


def run_checked(run, argv, what):
    rc, out, err = run(argv)
    if rc != 0:
        detail = (err or out).strip()
        raise ApplyError(f"{what} ({' '.join(argv)}, rc {rc}): {detail}")


def apply(changes, validate, reload_command, run):
    """Write the new texts, check nginx's configuration and reload it; put every file back
    on any error and raise ApplyError. run(argv) returns (rc, stdout, stderr)."""
    originals = {}
    try:
        for path, (_before, after) in sorted(changes.items()):
            originals[path] = replace_keeping_original(path, after)
        run_checked(run, validate, "nginx refused the marked sites")
        if reload_command:
            run_checked(run, reload_command, "the reload failed")
    except BaseException as error:
        failures = []
        for path, original in originals.items():
            try:
                os.replace(original, path)
            except OSError as restore_error:
                failures.append(f"{path} (its original is {original}): {restore_error}")
        if not isinstance(error, Exception):
            raise
        if failures:
            raise ApplyError(f"{error}; could not put back {'; '.join(failures)}") from error
        raise ApplyError(f"{error}; the sites were put back as they were") from error
    for original in originals.values():
        os.unlink(original)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if not params["validate"]:
        module.fail_json(msg="validate must be a command that checks nginx's configuration")
    directory = params["path"]
    try:
        sites = read_sites(directory)
        planned = plan(sites, set(params["servers"]), params["state"] == "drained")
    except UnknownServers as error:
        module.fail_json(
            msg=(
                f"no server line of a webstack upstream in {directory}/*.conf names "
                f"{', '.join(error.args[0])}: nothing was changed. {UNKNOWN_HINT}"
            ),
            unknown=error.args[0],
        )
    except (OSError, UnicodeDecodeError) as error:
        module.fail_json(msg=f"could not read the sites in {directory}: {error}")

    if planned.changes and not module.check_mode:

        def run(argv):
            return module.run_command(
                argv,
                environ_update={"LC_ALL": "C"},
                expand_user_and_vars=False,
                handle_exceptions=False,
            )

        try:
            apply(planned.changes, params["validate"], params["reload_command"], run)
        except ApplyError as error:
            module.fail_json(msg=str(error), sites=sorted(planned.changes))

    result = dict(
        changed=bool(planned.changes),
        sites=sorted(planned.changes),
        kept=planned.kept,
        upstreams=planned.upstreams,
    )
    if module._diff:
        result["diff"] = diffs(planned.changes)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
