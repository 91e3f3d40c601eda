#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: wheelhouse
short_description: Build on the controller the wheels a host's Python needs, in one archive
version_added: 1.0.0
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
  - pip evaluates environment markers for the controller's Python even then. The module
    reads every wheel's dependencies, evaluates their markers for the host (its full
    Python version, such as C(python_full_version < "3.11.3") on a 3.11.2 host), and
    downloads what is missing, until nothing is.
  - A package that is neither pure Python nor published as a wheel for the host's Python
    and platform fails the task, with pip's message naming it.
  - The archive is named after a hash of the requirements, the content of the requirement
    files and local wheels, and the host's platform, so that a run that asks for the same
    again reuses it without reaching the index. Unpinned requirements are therefore
    resolved once (until the archive is unused for O(max_age_days)); remove the archive to
    resolve them again.
author:
  - webstack.circus maintainers (@webstack)
requirements:
  - packaging (on the controller; ansible-core depends on it)
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
    description:
      - The host's Python version, V(3.13), or better with its micro version (V(3.13.5)),
        which requirements' environment markers may compare (C(python_full_version < "3.11.3")).
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
  max_age_days:
    description:
      - Archives in O(dest) that no run used for this many days are removed, so that the
        cache does not grow with every change of the requirements. An archive is used
        when a run builds or reuses it. V(0) keeps every archive.
      - A removed archive is built again when a run needs it, resolving unpinned
        requirements anew. Removing archives does not make the task changed (RV(removed)
        lists them), since they are a cache.
    type: int
    default: 30
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the name is computed and nothing is downloaded, written or removed.
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
removed:
  description:
    - The names of the archives and build locks removed from O(dest) (see O(max_age_days)),
      sorted.
  returned: success
  type: list
  elements: str
  sample: [9b0f683aeba99272.lock, 9b0f683aeba99272.tar]
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

import email.parser
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
import traceback
import zipfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.webstack.circus.plugins.module_utils.controller_cache import (
    MAX_AGE_OPTION,
    CacheError,
    mark_used,
    prune,
)
from ansible_collections.webstack.circus.plugins.module_utils.releases import (
    requirements_closure,
)
from ansible_collections.webstack.circus.plugins.module_utils.source_archive import file_digest

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:
    PACKAGING_ERROR = traceback.format_exc()
else:
    PACKAGING_ERROR = None

# Bump when what goes into an archive changes, so that older archives are not reused.
LAYOUT = 2
# How many times the wheels' dependencies are completed for the host (see complete()).
COMPLETION_ROUNDS = 10
# The oldest manylinux glibc (manylinux1), and the legacy names of the PEP 600 tags.
OLDEST_GLIBC_MINOR = 5
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
# What the cache holds: archives and the locks of their builds.
CACHED_NAMES = re.compile(r"[0-9a-f]{16}\.(tar|lock)")


class WheelhouseError(Exception):
    pass


def parse_version(text, name, parts):
    """A version such as 3.13 or 2.41 as a tuple of `parts` integers."""
    if not re.match(r"^[0-9]+(\.[0-9]+)*\Z", text or "") or len(text.split(".")) < parts:
        raise WheelhouseError(
            f"{name} must be a version such as {'3.13' if parts == 2 else '2.41'}, got {text!r}"
        )
    return tuple(int(part) for part in text.split(".")[:parts])


def python_parts(text):
    """The host's Python version as given, major and minor at least (3.11 or 3.11.2): its
    micro version decides markers such as python_full_version < "3.11.3"."""
    parse_version(text, "python_version", 2)
    return tuple(int(part) for part in text.split(".")[:3])


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
    version = python_parts(python_version)
    major, minor = version[:2]
    argv = [python, "-m", "pip", "download", "--disable-pip-version-check", "--quiet"]
    argv += ["--dest", house, "--find-links", found, "--only-binary=:all:"]
    argv += ["--python-version", ".".join(map(str, version)), "--implementation", "cp"]
    argv += ["--abi", f"cp{major}{minor}", "--abi", "abi3", "--abi", "none"]
    for tag in platforms:
        argv += ["--platform", tag]
    for path in files:
        argv += ["--requirement", path]
    return argv + list(requirements)


def wheel_argv(python, found, requirements, files, no_deps=False):
    """pip wheel with the controller's Python: builds the source-only packages."""
    argv = [python, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet"]
    argv += ["--no-deps"] if no_deps else []
    argv += ["--wheel-dir", found]
    for path in files:
        argv += ["--requirement", path]
    return argv + list(requirements)


def read_file(path):
    """A file's bytes, or None where it cannot be read."""
    try:
        with open(path, "rb") as source:
            return source.read()
    except OSError:
        return None


def with_included(files, constraints=True):
    """{path: content} of the requirements files and of those they include (-r) and, with
    constraints, constrain by (-c), recursively, each once, in the order met."""
    contents = {}
    for path in files:
        closure = requirements_closure(os.path.abspath(path), read_file, constraints)
        for name, content in closure.items():
            contents.setdefault(name, content)
    return contents


def wheelhouse_key(requirements, files, python_version, machine, glibc):
    """What names the archive: the requirements, the files' content, the host's platform."""
    described = {
        "layout": LAYOUT,
        "requirements": [
            [item, file_digest(item)] if os.path.isfile(item) else [item, None]
            for item in requirements
        ],
        # With the files they include (-r, -c): a pin changed there is another wheelhouse.
        "files": [hashlib.sha256(content).hexdigest() for content in with_included(files).values()],
        "python": list(python_parts(python_version)),
        "machine": machine,
        "glibc": list(parse_version(glibc, "glibc", 2)),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def host_environment(python_version, machine):
    """The values of environment markers on a Linux host's CPython."""
    version = python_parts(python_version)
    full = ".".join(map(str, version))
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "python_version": f"{version[0]}.{version[1]}",
        "sys_platform": "linux",
    }


def requirement_lines(requirements, files):
    """The requirements given, and those of the files (and the files they include with
    -r), as packaging Requirements; options, paths and URLs are left out."""
    lines = list(requirements)
    for content in with_included(files, constraints=False).values():
        for line in content.decode("utf-8", "replace").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith(("-", "#")):
                lines.append(line)
    found = []
    for line in lines:
        if line.endswith(".whl") and os.path.isfile(line):
            line = parse_wheel_filename(os.path.basename(line))[0]
        try:
            found.append(Requirement(line))
        except InvalidRequirement:
            continue
    return found


def wheel_requirements(path):
    """The Requires-Dist of a wheel file."""
    with zipfile.ZipFile(path) as wheel:
        name = next(
            entry
            for entry in wheel.namelist()
            if entry.count("/") == 1 and entry.endswith(".dist-info/METADATA")
        )
        metadata = email.parser.Parser().parsestr(wheel.read(name).decode("utf-8"))
    return [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]


def missing_requirements(house, wanted, environment):
    """What the host needs that no wheel in house satisfies: the requirements wanted and
    those of the wheels, with their markers evaluated for the host (pip evaluates them for
    the controller's Python, even with --python-version: a python_full_version < "3.11.3"
    dependency of a 3.11.2 host is not downloaded by a 3.11.7 controller)."""
    present = {}
    for name in os.listdir(house):
        if name.endswith(".whl"):
            dist, version, _build, _tags = parse_wheel_filename(name)
            present[canonicalize_name(dist)] = (version, os.path.join(house, name))
    extras, missing, pending, done = {}, {}, list(wanted), set()
    while pending:
        requirement = pending.pop()
        key = canonicalize_name(requirement.name)
        asked = extras.setdefault(key, set())
        if requirement.extras - asked:
            asked |= requirement.extras
            done.discard(key)
        if key not in present or not requirement.specifier.contains(
            present[key][0], prereleases=True
        ):
            missing.setdefault(key, requirement)
            continue
        path = present[key][1]
        if key in done:
            continue
        done.add(key)
        for needed in wheel_requirements(path):
            marker = needed.marker
            if marker is None or any(
                marker.evaluate(dict(environment, extra=extra)) for extra in asked | {""}
            ):
                pending.append(needed)
    return sorted(
        requirement.name
        + (f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else "")
        + str(requirement.specifier)
        for requirement in missing.values()
    )


def complete(python, house, found, params, platforms, what):
    """Download, one round after another, what the wheels need on the host but pip left
    out; the controller builds wheels of those published only as source first."""
    python_version, requirements = params["python_version"], params["requirements"]
    environment = host_environment(python_version, params["machine"])
    wanted = [
        requirement
        for requirement in requirement_lines(requirements, params["requirement_files"])
        if requirement.marker is None or requirement.marker.evaluate(dict(environment, extra=""))
    ]
    for _round in range(COMPLETION_ROUNDS):
        missing = missing_requirements(house, wanted, environment)
        if not missing:
            return
        run_pip(wheel_argv(python, found, missing, [], no_deps=True), "pip wheel on the controller")
        run_pip(download_argv(python, house, found, python_version, platforms, missing, []), what)
    raise WheelhouseError(f"the wheels' dependencies for the host are still missing: {missing}")


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
        what = (
            f"pip download of wheels for Python {params['python_version']} on {platforms[0]}"
            " (a package that is not pure Python has no wheel for the host's Python and platform)"
        )
        version = params["python_version"]
        run_pip(download_argv(python, house, found, version, platforms, requirements, files), what)
        complete(python, house, found, params, platforms, what)
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
            max_age_days=MAX_AGE_OPTION,
        ),
        supports_check_mode=True,
    )
    if PACKAGING_ERROR:
        module.fail_json(msg=missing_required_lib("packaging"), exception=PACKAGING_ERROR)
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
    lock = os.path.join(params["dest"], key + ".lock")
    result = dict(key=key, archive=archive, platforms=platforms, removed=[])
    if module.check_mode:
        module.exit_json(changed=not os.path.exists(archive), **result)
    try:
        if os.path.exists(archive):
            mark_used(archive)
            changed = False
        else:
            changed = build_once(python, lock, archive, platforms, params)
        result["removed"] = prune(
            params["dest"], CACHED_NAMES, params["max_age_days"], keep=[archive, lock]
        )
    except (WheelhouseError, CacheError, OSError) as error:
        module.fail_json(msg=str(error), **result)
    module.exit_json(changed=changed, **result)


def build_once(python, lock, archive, platforms, params):
    """Builds the archive unless another run did while this one waited for the lock:
    hosts with the same platform share an archive, one fork builds it, the others wait.
    Returns whether it built."""
    os.makedirs(params["dest"], exist_ok=True)
    with open(lock, "w") as locked:
        fcntl.flock(locked, fcntl.LOCK_EX)
        if os.path.exists(archive):
            return False
        build(python, params["dest"], archive, platforms, params)
    return True


if __name__ == "__main__":
    main()
