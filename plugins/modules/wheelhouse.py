#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: wheelhouse
short_description: Build on the controller the wheels a host's Python needs, in one archive
version_added: 0.3.0
description:
  - Meant to run on the controller (C(delegate_to) V(localhost)) for hosts that cannot reach
    a package index. The P(webstack.circus.circus#role) and P(webstack.circus.django_app#role)
    roles ship the archive to the host in one transfer and install from it with
    C(pip install --no-index --find-links).
  - Wheels are chosen for the host's Python, not the controller's. C(pip wheel) first builds,
    with the controller's pip and its index settings, a wheel of every package and its
    dependencies, so that packages published only as source become wheels. Then
    C(pip download --only-binary=:all:) resolves the requirements again for the host's
    Python version, CPU and C library (O(python_version), O(machine), O(glibc)), taking the
    pure-Python wheels just built and the index's binary wheels for the host.
  - A package that is neither pure Python nor published as a wheel for the host's Python
    and platform fails the task, with pip's message naming it.
  - The archive is named after a hash of the requirements, the content of the requirement
    files and local wheels, and the host's platform, so that a run that asks for the same
    again reuses it without reaching the index. Unpinned requirements are therefore
    resolved once; remove the archive to resolve them again.
author:
  - webstack.circus maintainers (@webstack)
options:
  dest:
    description: The directory where wheelhouse archives are kept, created if needed.
    type: path
    required: true
  requirements:
    description:
      - pip requirements (V(circus==0.19.0)) or paths of wheel files on the controller.
    type: list
    elements: str
    default: []
  requirement_files:
    description:
      - Requirements files on the controller, read by pip there. Their content is part of
        the archive's name; files they include with C(-r) are not.
    type: list
    elements: path
    default: []
  python_version:
    description: The host's Python version, major and minor (V(3.13)).
    type: str
    required: true
  machine:
    description: The host's CPU as Python's C(platform.machine()) names it (V(x86_64)).
    type: str
    required: true
  glibc:
    description: The host's GNU C library version (V(2.41)), which bounds its manylinux tags.
    type: str
    required: true
  python:
    description:
      - The controller's Python that runs pip (it must have pip). Defaults to the Python
        that runs this module.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the name is computed and nothing is downloaded or written.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: webstack.circus.app_archive
"""

EXAMPLES = r"""
- name: Read the host's Python version, CPU and C library version
  ansible.builtin.command:
    argv:
      - python3
      - -c
      - >-
        import os, platform, sys;
        print('%d.%d' % sys.version_info[:2], platform.machine(),
        os.confstr('CS_GNU_LIBC_VERSION').split()[1])
  register: host_python
  changed_when: false

- name: Build the wheels of Circus for that host
  webstack.circus.wheelhouse:
    dest: "{{ lookup('ansible.builtin.env', 'HOME') }}/.cache/webstack.circus/wheelhouses"
    requirements: [circus==0.19.0]
    python_version: "{{ host_python.stdout.split()[0] }}"
    machine: "{{ host_python.stdout.split()[1] }}"
    glibc: "{{ host_python.stdout.split()[2] }}"
    python: "{{ ansible_playbook_python }}"
  delegate_to: localhost
  become: false
  register: circus_wheels
"""

RETURN = r"""
key:
  description: The hash that names the archive (hexadecimal, 16 digits).
  returned: success
  type: str
  sample: 3f2a9c0d4b1e7a52
archive:
  description: The archive of the wheels (a tar file of wheel files, no directory).
  returned: success
  type: str
  sample: /root/.cache/webstack.circus/wheelhouses/3f2a9c0d4b1e7a52.tar
platforms:
  description: The platform tags the wheels were chosen for, most specific first.
  returned: success
  type: list
  elements: str
  sample: [manylinux_2_36_x86_64, manylinux_2_35_x86_64]
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule

# Bump when what goes into an archive changes, so that older archives are not reused.
LAYOUT = 1
# The oldest manylinux glibc (manylinux1), and the legacy names of the PEP 600 tags.
OLDEST_GLIBC_MINOR = 5
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
CHUNK = 1 << 20


class WheelhouseError(Exception):
    pass


def parse_version(text, name, parts):
    """A version such as 3.13 or 2.41 as a tuple of `parts` integers."""
    if not re.match(r"^[0-9]+(\.[0-9]+)*\Z", text or "") or len(text.split(".")) < parts:
        raise WheelhouseError(
            f"{name} must be a version such as {'3.13' if parts == 2 else '2.41'}, got {text!r}"
        )
    return tuple(int(part) for part in text.split(".")[:parts])


def manylinux_platforms(glibc, machine):
    """The platform tags a glibc host runs, most specific first (PEP 600 and legacy)."""
    major, minor = parse_version(glibc, "glibc", 2)
    if major != 2 or minor < OLDEST_GLIBC_MINOR:
        raise WheelhouseError(f"glibc {glibc} is older than any manylinux wheel (2.5)")
    if not re.match(r"^[A-Za-z0-9_]+\Z", machine or ""):
        raise WheelhouseError(f"machine must be a CPU name such as x86_64, got {machine!r}")
    tags = []
    for known in range(minor, OLDEST_GLIBC_MINOR - 1, -1):
        tags.append(f"manylinux_2_{known}_{machine}")
        if known in LEGACY_MANYLINUX:
            tags.append(f"{LEGACY_MANYLINUX[known]}_{machine}")
    return tags


def download_argv(python, house, found, python_version, platforms, requirements, files):
    """pip download for the host's interpreter: only wheels, from the index or `found`."""
    major, minor = parse_version(python_version, "python_version", 2)
    argv = [python, "-m", "pip", "download", "--disable-pip-version-check", "--quiet"]
    argv += ["--dest", house, "--find-links", found, "--only-binary=:all:"]
    argv += ["--python-version", f"{major}.{minor}", "--implementation", "cp"]
    argv += ["--abi", f"cp{major}{minor}", "--abi", "abi3", "--abi", "none"]
    for tag in platforms:
        argv += ["--platform", tag]
    for path in files:
        argv += ["--requirement", path]
    return argv + list(requirements)


def wheel_argv(python, found, requirements, files):
    """pip wheel with the controller's Python: builds the source-only packages."""
    argv = [python, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet"]
    argv += ["--wheel-dir", found]
    for path in files:
        argv += ["--requirement", path]
    return argv + list(requirements)


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def wheelhouse_key(requirements, files, python_version, machine, glibc):
    """What names the archive: the requirements, the files' content, the host's platform."""
    described = {
        "layout": LAYOUT,
        "requirements": [
            [item, file_digest(item)] if os.path.isfile(item) else [item, None]
            for item in requirements
        ],
        "files": [file_digest(path) for path in files],
        "python": list(parse_version(python_version, "python_version", 2)),
        "machine": machine,
        "glibc": list(parse_version(glibc, "glibc", 2)),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def run_pip(argv, what):
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [
            line for line in result.stderr.splitlines() if not line.startswith("WARNING: Location")
        ]
        raise WheelhouseError(
            f"{what} failed (rc {result.returncode}): {' '.join(argv)}\n" + "\n".join(lines[-20:])
        )


def write_archive(house, destination):
    """A tar of the wheel files, owned by root, written beside the destination, then renamed."""
    wheels = sorted(name for name in os.listdir(house) if name.endswith(".whl"))
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(destination), suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as archive:
            for name in wheels:
                info = archive.gettarinfo(os.path.join(house, name), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = 0o644
                with open(os.path.join(house, name), "rb") as content:
                    archive.addfile(info, content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        os.unlink(temporary)
        raise
    return wheels


def build(python, dest, archive, platforms, params):
    work = tempfile.mkdtemp(dir=dest, prefix=".build-")
    try:
        found, house = os.path.join(work, "built"), os.path.join(work, "house")
        requirements, files = params["requirements"], params["requirement_files"]
        run_pip(wheel_argv(python, found, requirements, files), "pip wheel on the controller")
        run_pip(
            download_argv(
                python, house, found, params["python_version"], platforms, requirements, files
            ),
            f"pip download of wheels for Python {params['python_version']} on {platforms[0]}"
            " (a package that is not pure Python has no wheel for the host's Python and platform)",
        )
        return write_archive(house, archive)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            requirements=dict(type="list", elements="str", default=[]),
            requirement_files=dict(type="list", elements="path", default=[]),
            python_version=dict(type="str", required=True),
            machine=dict(type="str", required=True),
            glibc=dict(type="str", required=True),
            python=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    python = params["python"] or sys.executable
    if not params["requirements"] and not params["requirement_files"]:
        module.fail_json(msg="a wheelhouse needs requirements or requirement_files")
    try:
        platforms = manylinux_platforms(params["glibc"], params["machine"])
        key = wheelhouse_key(
            params["requirements"],
            params["requirement_files"],
            params["python_version"],
            params["machine"],
            params["glibc"],
        )
    except (WheelhouseError, OSError) as error:
        module.fail_json(msg=str(error))
    archive = os.path.join(params["dest"], key + ".tar")
    result = dict(key=key, archive=archive, platforms=platforms)
    if os.path.exists(archive) or module.check_mode:
        module.exit_json(changed=not os.path.exists(archive), **result)
    os.makedirs(params["dest"], exist_ok=True)
    # Hosts with the same platform share an archive: one fork builds it, the others wait.
    with open(os.path.join(params["dest"], key + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(archive):
            module.exit_json(changed=False, **result)
        try:
            build(python, params["dest"], archive, platforms, params)
        except (WheelhouseError, OSError) as error:
            module.fail_json(msg=str(error), **result)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
