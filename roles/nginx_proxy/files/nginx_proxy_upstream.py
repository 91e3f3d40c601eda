# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Take app hosts out of the upstreams of the sites the nginx_proxy role wrote, or put
them back. deploy.yml runs it on every proxy around each batch of app hosts.

Usage: python3 nginx_proxy_upstream.py down|up HOST...

In each ``upstream webstack_*`` block, the ``server ADDRESS [PARAMETERS];`` lines of the
given hosts get nginx's ``down`` parameter, or lose it; a HOST is the address's host
(``app1``, ``10.0.0.5``, ``[fd00::3]``) or the whole address (``app1:8000``). ``down``
never takes the last server of an upstream: that one stays up and is reported as kept.

A HOST that matches no server line of any webstack upstream is an error, reported
before any file changes: deploy.yml would otherwise deploy a host that still takes
traffic. Files are replaced atomically (same mode and owner). When a file changed,
nginx's configuration is checked and nginx is reloaded; if the check refuses it, or
anything fails, every file is put back as it was. Prints
{"changed": ..., "sites": [...], "kept": [...]} as JSON.
"""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile

SITES = "/etc/nginx/sites-available/*.conf"
CHECK = ["nginx", "-t", "-q"]
RELOAD = ["systemctl", "reload", "nginx"]
UPSTREAM = re.compile(r"^\s*upstream\s+(webstack_\S+)\s*\{\s*(#.*)?$")
# server ADDRESS PARAMETERS; # comment
SERVER = re.compile(
    r"^(?P<lead>\s*server\s+)(?P<address>[^\s;#]+)(?P<params>[^;#]*);(?P<trail>\s*(#.*)?)$"
)


class UnknownHosts(Exception):
    """Hosts that match no server line of any webstack upstream."""


def host_of(address):
    """The host part of an upstream server address: [v6], name or IPv4, without the port."""
    if address.startswith("["):
        return address[: address.find("]") + 1]
    return address.rsplit(":", 1)[0] if ":" in address else address


def parse_server(line):
    """(lead, address, [parameters but down], is down, trail) of a server line, or None."""
    match = SERVER.match(line.rstrip("\n"))
    if not match:
        return None
    params = match["params"].split()
    return (
        match["lead"],
        match["address"],
        [param for param in params if param != "down"],
        "down" in params,
        match["trail"],
    )


def names(address):
    return {address, host_of(address)}


def mark(text, hosts, down):
    """Return (text with the hosts' servers marked down or up, [kept "upstream address"],
    {hosts matched by a server line of a webstack upstream})."""
    lines = text.splitlines(keepends=True)
    kept, matched = [], set()
    block = None
    for index, line in enumerate(lines):
        opening = UPSTREAM.match(line)
        if opening:
            block = dict(name=opening.group(1), servers={})
        elif block is not None and line.strip().startswith("}"):
            settle(lines, block, hosts, down, kept)
            block = None
        elif block is not None:
            server = parse_server(line)
            if server:
                block["servers"][index] = server
                matched |= names(server[1]) & hosts
    return "".join(lines), kept, matched


def settle(lines, block, hosts, down, kept):
    """Mark one upstream block's servers; keep its last server up."""
    servers = block["servers"]
    wanted = {
        index: (bool(names(address) & hosts) and down) or (not names(address) & hosts and was_down)
        for index, (_lead, address, _params, was_down, _trail) in servers.items()
    }
    if servers and all(wanted.values()):
        for index, (_lead, address, _params, was_down, _trail) in servers.items():
            if names(address) & hosts and not was_down:
                wanted[index] = False
                kept.append(f"{block['name']} {address}")
                break
    for index, (lead, address, params, was_down, trail) in servers.items():
        if wanted[index] != was_down:
            words = [address, *params] + (["down"] if wanted[index] else [])
            newline = "\n" if lines[index].endswith("\n") else ""
            lines[index] = f"{lead}{' '.join(words)};{trail}{newline}"


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


def plan(paths, hosts, down):
    """{path: new text} of the files that change, and the kept servers.
    Raises UnknownHosts before anything is written."""
    changes, kept, matched = {}, [], set()
    for path in paths:
        with open(path) as site:
            text = site.read()
        marked, site_kept, site_matched = mark(text, hosts, down)
        kept += site_kept
        matched |= site_matched
        if marked != text:
            changes[path] = marked
    unknown = sorted(hosts - matched)
    if unknown:
        raise UnknownHosts(unknown)
    return changes, kept


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


def apply(changes):
    """Write the new texts, check and reload nginx; put every file back on any error."""
    originals = {}
    try:
        for path, text in changes.items():
            originals[path] = replace_keeping_original(path, text)
        check = subprocess.run(CHECK, capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused the marked sites: {check.stderr.strip()}")
        reload = subprocess.run(RELOAD, capture_output=True, text=True, check=False)
        if reload.returncode != 0:
            raise RuntimeError(f"{' '.join(RELOAD)} failed: {reload.stderr.strip()}")
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
            sys.exit(f"{error}; could not put back {'; '.join(failures)}")
        sys.exit(f"{error}; the sites were put back as they were")
    for original in originals.values():
        os.unlink(original)


def main(argv):
    if len(argv) < 2 or argv[0] not in ("down", "up"):
        sys.exit("usage: nginx_proxy_upstream.py down|up HOST...")
    down, hosts = argv[0] == "down", set(argv[1:])
    paths = list(dict.fromkeys(os.path.realpath(path) for path in sorted(glob.glob(SITES))))
    try:
        changes, kept = plan(paths, hosts, down)
    except UnknownHosts as error:
        sys.exit(
            f"no server line of a webstack upstream in {SITES} names "
            f"{', '.join(error.args[0])}: nothing was changed. Name each app host in the "
            "proxies' upstreams (nginx_proxy_sites upstreams) as deploy.yml does: its "
            "deploy_upstream_host, or its inventory name."
        )
    except OSError as error:
        sys.exit(f"could not read the sites: {error}")
    if changes:
        apply(changes)
    print(json.dumps(dict(changed=bool(changes), sites=sorted(changes), kept=kept)))


if __name__ == "__main__":
    main(sys.argv[1:])
