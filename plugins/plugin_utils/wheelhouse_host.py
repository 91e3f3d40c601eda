# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A wheelhouse shipped to a host by an action plugin (webstack.circus.wheelhouse, and
webstack.circus.app_build for a virtualenv built offline): the host's platform and the
wheelhouses it holds read in one command, the archive built on the controller for that
platform, and, unless the host holds this one alone, shipped and unpacked (one transfer,
one command)."""

from __future__ import annotations

import json
import shlex

from ansible_collections.webstack.circus.plugins.module_utils.wheelhouse import (
    PLATFORM,
    WheelhouseError,
    build_wheelhouse,
)

# The host's Python version (with its micro version, which markers compare), CPU and C
# library version; and what host_path holds: {name: whether it is complete}.
PROBE = """
import json, os, platform, sys
path = sys.argv[1]
names = sorted(os.listdir(path)) if os.path.isdir(path) else []
print(json.dumps({
    "python_version": "%d.%d.%d" % sys.version_info[:3],
    "machine": platform.machine(),
    "glibc": os.confstr("CS_GNU_LIBC_VERSION").split()[1],
    "held": {name: os.path.exists(os.path.join(path, name, ".complete")) for name in names},
}))
"""


def probe_command(host_path):
    return f"python3 -c {shlex.quote(PROBE)} {shlex.quote(host_path)}"


def read_probe(stdout):
    """The probe's answer, or WheelhouseError saying what came instead."""
    try:
        found = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, ValueError) as error:
        raise WheelhouseError(f"the host's platform could not be read: {stdout!r}") from error
    return found


def host_is_current(held, key):
    """Whether the host holds this wheelhouse, complete, and no other."""
    return held == {key: True}


def unpack_command(host_path, key, archive):
    """Unpack the shipped archive into host_path/KEY (root's, 0755; the wheels are root's,
    0644, as the archive says), mark it complete last, and remove every other wheelhouse,
    those of earlier runs and a partial one."""
    path, house = shlex.quote(host_path), shlex.quote(f"{host_path}/{key}")
    return " && ".join(
        [
            f"install -d -o root -g root -m 0755 {path}",
            f"rm -rf {house}",
            f"install -d -o root -g root -m 0755 {house}",
            f"tar -xf {shlex.quote(archive)} -C {house}",
            f"echo {shlex.quote(key)} > {house}/.complete",
            prune_command(host_path, key),
        ]
    )


def prune_command(host_path, key):
    """Remove every wheelhouse in host_path but KEY."""
    path = shlex.quote(host_path)
    return f"find {path} -mindepth 1 -maxdepth 1 ! -name {shlex.quote(key)} -exec rm -rf {{}} +"


def on_host(action, command, what):
    """The stdout of a command on the action's host (as the task's become user)."""
    done = action._low_level_execute_command(command)
    if done["rc"] != 0:
        raise WheelhouseError(
            f"{what} failed (rc {done['rc']}): {done.get('stderr', '')}{done['stdout']}".strip()
        )
    return done["stdout"]


def ship_wheelhouse(action, params, check_mode):
    """The wheelhouse module's result for params (with host_path): built on the controller
    for the host's platform, unpacked on the host into RV(path). Raises WheelhouseError."""
    host_path = params["host_path"]
    found = read_probe(on_host(action, probe_command(host_path), "reading the host's platform"))
    held = found.pop("held")
    params = dict(params, **{name: params.get(name) or found[name] for name in PLATFORM})
    result = build_wheelhouse(params, check_mode=check_mode)
    if result.get("failed"):
        return result
    key = result["key"]
    result["path"] = f"{host_path}/{key}"
    if host_is_current(held, key):
        return result
    result["changed"] = True
    if check_mode:
        return result
    if held.get(key):
        on_host(action, prune_command(host_path, key), "removing the other wheelhouses")
        return result
    action._make_tmp_path()
    shell = action._connection._shell
    tmpdir = shell.tmpdir
    remote = shell.join_path(tmpdir, "wheels.tar")
    try:
        action._transfer_file(result["archive"], remote)
        action._fixup_perms2((tmpdir, remote))
        on_host(action, unpack_command(host_path, key, remote), "unpacking the wheels")
    finally:
        action._remove_tmp_path(tmpdir)
    return result
