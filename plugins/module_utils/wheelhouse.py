# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wheels for a host's Python, built on the controller (webstack.circus.wheelhouse, whose
action plugin also ships them to the host and unpacks them there)."""

from __future__ import annotations

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


ARGUMENT_SPEC = dict(
    dest=dict(type="path", required=True),
    requirements=dict(type="list", elements="str", default=[]),
    requirement_files=dict(type="list", elements="path", default=[]),
    python_version=dict(type="str"),
    machine=dict(type="str"),
    glibc=dict(type="str"),
    python=dict(type="path"),
    max_age_days=MAX_AGE_OPTION,
    host_path=dict(type="path"),
)
PLATFORM = ("python_version", "machine", "glibc")


def build_wheelhouse(params, check_mode=False):
    """The archive of the wheels for the platform in params (built unless the cache has
    it; in check mode only named): the module's result, failed when the build failed.
    Raises WheelhouseError on arguments that name no archive."""
    if PACKAGING_ERROR:
        raise WheelhouseError(f"the controller's Python lacks packaging:\n{PACKAGING_ERROR}")
    if not params["requirements"] and not params["requirement_files"]:
        raise WheelhouseError("a wheelhouse needs requirements or requirement_files")
    missing = [name for name in PLATFORM if not params.get(name)]
    if missing:
        raise WheelhouseError(f"missing required arguments: {', '.join(missing)}")
    python = params["python"] or sys.executable
    try:
        platforms = manylinux_platforms(params["glibc"], params["machine"])
        key = wheelhouse_key(
            params["requirements"],
            params["requirement_files"],
            params["python_version"],
            params["machine"],
            params["glibc"],
        )
    except OSError as error:
        raise WheelhouseError(str(error)) from error
    archive = os.path.join(params["dest"], key + ".tar")
    lock = os.path.join(params["dest"], key + ".lock")
    result = dict(key=key, archive=archive, platforms=platforms, removed=[])
    if check_mode:
        return dict(result, changed=not os.path.exists(archive))
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
        return dict(result, failed=True, msg=str(error))
    return dict(result, changed=changed)
