#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_build
short_description: Build a release of an app on the host in one call
version_added: 1.0.0
description:
  - Builds C(releases/ID) of the layout of M(webstack.circus.app_release) in
    C(releases/ID.partial), and renames it once complete, so that a build that fails leaves
    no release behind and the next one starts it again.
  - Puts the code in C(releases/ID.partial/app) (see O(code)), then names the virtualenv
    after the packages it holds (O(packages), the requirements file's content, and
    O(tree) for a package source), C(venvs/KEY), shared by every release with the same
    packages.
  - When that virtualenv is complete (it holds a C(.complete) file), links the release to
    it, runs O(build_commands) and Django's C(collectstatic) in the release as the app's
    user, gives the collected files to root and completes the release.
  - C(collectstatic) writes where the app's settings put E(STATIC_ROOT), the release's
    C(static/) (the role's E(DJANGO_STATIC_ROOT)), or a directory of the release's code,
    which C(static/) then links to (an app that sets C(STATIC_ROOT = BASE_DIR /
    "staticfiles") finds its manifest there). A STATIC_ROOT outside the release, none, a
    result that lacks a file Django's finders list, or an empty one fails the build.
  - Otherwise, with O(venv_install), it installs that virtualenv first, as the app's user
    (pip runs the build scripts of the packages, which must never run as root), with
    C(python3 -m venv), pip's settings (O(pip_index_url), O(pip_cert)), one C(pip install) of
    RV(install), a package source and the requirements file; then gives it to root and
    marks it complete. Without O(venv_install) it stops before the virtualenv with RV(built)
    false and RV(venv) naming the virtualenv to install; call it again with O(code=present)
    once it is installed.
  - A release that is on the host already is left as it is.
  - Runs on the host; its action plugin sends the archive from the controller, inside the
    module's arguments when it is small and as a file transfer otherwise.
author:
  - webstack.circus maintainers (@webstack)
options:
  path:
    description: The app's home, where C(releases/) and C(venvs/) are.
    type: path
    required: true
  release:
    description: The release (16 hexadecimal digits) to build.
    type: str
    required: true
  code:
    description:
      - V(archive), a C(.tar.gz) of the app's source (O(src)) unpacked into C(app/).
      - V(package), a wheel or an sdist (O(src)) copied beside C(app/) under its own name,
        which pip installs into the virtualenv.
      - V(present), the code is in C(releases/ID.partial/app) already (a git checkout, or
        an earlier call that stopped for the virtualenv).
    type: str
    choices: [archive, package, present]
    required: true
  src:
    description:
      - The archive or package, on the controller (on the host with O(remote_src)).
      - Required unless O(code=present).
    type: path
  content:
    description:
      - The archive or package itself, base64-encoded, in place of O(src). The action
        plugin sends a small O(src) this way, in the one command that runs the module.
    type: str
  filename:
    description: The package's file name; by default, that of O(src).
    type: str
  remote_src:
    description: Whether O(src) is on the host.
    type: bool
    default: false
  requirements_file:
    description:
      - The requirements file's path inside the source, or an empty string for none. It must
        be there.
    type: str
    default: ""
  packages:
    description:
      - The packages the virtualenv holds beside the requirements file (the server first).
        They name the virtualenv.
      - One whose distribution the requirements file names as well (the app pins its own
        C(gunicorn), say) is not installed; the app's requirement wins, with a warning
        naming both, so that pip never sees two versions of one package. See RV(install).
    type: list
    elements: str
    default: []
  tree:
    description: The hash of the source, which also names the virtualenv of a package source.
    type: str
    default: ""
  user:
    description: The app's user, who owns the static directory while C(collectstatic) writes it.
    type: str
    required: true
  collectstatic:
    description: Whether to run Django's C(collectstatic) in the release.
    type: bool
    default: true
  project_dir:
    description:
      - The Django project's directory (where C(manage.py) is) inside the source, relative
        to its root; V("") is the root. C(collectstatic) runs there; a source without it
        fails the build.
    type: str
    default: ""
  build_commands:
    description:
      - Commands (each a list of arguments, no shell) that build the release before
        C(collectstatic), such as V([python, manage.py, compilemessages]). A program is
        found in the release's virtualenv first, then in C(/usr/local/bin:/usr/bin:/bin).
      - While they run, the release's C(app/) belongs to O(user), so that they can write
        into it; it is root's again once they end. One that fails fails the build.
    type: list
    elements: list
    default: []
  config_files:
    description:
      - Paths from the source's root where the code gets a link to the file of the same
        path under C(config/) in O(path) (the role writes them there), replacing what
        the source has at that path, before O(build_commands) and C(collectstatic) run.
    type: list
    elements: str
    default: []
  venv_install:
    description: Whether to install the virtualenv when it is not complete (see above).
    type: bool
    version_added: 1.1.0
    default: false
  pip_index_url:
    description:
      - The package index the virtualenv's pip uses, written to its C(pip.conf) (root's,
        read by O(user)'s group), never on a command line; it may hold a password.
      - V("") keeps pip's own settings.
    type: str
    version_added: 1.1.0
    default: ""
  pip_cert:
    description:
      - The CA certificates pip trusts, as PEM text (written to C(pip-ca.pem) in the
        virtualenv) or the path of a bundle on the host. V("") for pip's own.
    type: str
    version_added: 1.1.0
    default: ""
  pip_cache:
    description: pip's cache directory (O(user)'s), where its log of the install is kept too.
    type: path
    version_added: 1.1.0
  pip_find_links:
    description:
      - A directory of wheels on the host that pip installs from alone (C(--no-index)).
      - Set by the action plugin from O(wheelhouse).
    type: path
    version_added: 1.1.0
  wheelhouse:
    description:
      - For a host without a package index, options of M(webstack.circus.wheelhouse)
        (O(webstack.circus.wheelhouse#module:dest),
        O(webstack.circus.wheelhouse#module:host_path),
        O(webstack.circus.wheelhouse#module:requirement_files)) with which the action
        plugin builds on the controller the wheels of RV(install) (and of a package
        source), ships them, and installs the virtualenv from them alone. Only with
        O(venv_install).
    type: dict
    version_added: 1.1.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - webstack.circus.app_commands
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is written; RV(venv) is named from the archive's
        requirements file all the same.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: webstack.circus.app_release
  - module: webstack.circus.app_archive
"""

EXAMPLES = r"""
- name: Build the release from the archive packed on the controller
  webstack.circus.app_build:
    path: /srv/shop
    release: 0123456789abcdef
    code: archive
    src: ~/.cache/webstack.circus/archives/5bef7be4bf577007.tar.gz
    requirements_file: requirements.txt
    packages: [chaussette==1.3.0]
    user: shop
    run_as: [/usr/bin/python3, -I, /srv/shop/lib/webstack_run.py, /srv/shop/environment.json,
             --user, shop, --]
  register: build
"""

RETURN = r"""
built:
  description: Whether the release is complete on the host (in check mode, would be).
  returned: always
  type: bool
venv:
  description: The virtualenv of the release's packages.
  returned: always
  type: str
  sample: /srv/shop/venvs/0f1e2d3c4b5a6978
venv_complete:
  description: Whether that virtualenv was complete.
  returned: always
  type: bool
release_dir:
  description: Where the release is once complete.
  returned: always
  type: str
  sample: /srv/shop/releases/0123456789abcdef
shipped:
  description: How the action plugin sent the archive from the controller.
  returned: when O(src) is on the controller
  type: str
  sample: in the arguments
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
wheelhouse:
  description: What M(webstack.circus.wheelhouse) returned, when O(wheelhouse) shipped wheels.
  returned: when the virtualenv was installed from O(wheelhouse)
  type: dict
install:
  description: The packages of O(packages) that pip installs beside the requirements file.
  returned: always
  type: list
  elements: str
  sample: [chaussette==1.3.0]
output:
  description:
    - The O(build_commands) and C(collectstatic) that ran, each as a line C($ COMMAND)
      followed by the last lines of its output (O(hide) values masked).
  returned: always
  type: list
  elements: str
"""

import base64
import hashlib
import io
import json
import os
import posixpath
import pwd
import re
import shutil
import tarfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.releases import (
    APP_COMMANDS_ARGUMENT_SPEC,
    RELEASE_ID,
    app_command,
    output_lines,
    requirements_closure,
)

# Run by the release's Python as the app's user in the project's directory (python -c).
# It collects the static files only where the settings put STATIC_ROOT once that is the
# directory the module expects (argv[1]); otherwise it prints where they would go and
# exits 3, collecting nothing, so that the module can check and prepare that directory.
# Then every file Django's finders list must be there, or it exits 1 naming one: the
# files the pages link are the ones nginx will serve.
COLLECT = r"""
import os, sys
import django
django.setup()
from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
root = os.path.realpath(settings.STATIC_ROOT) if settings.STATIC_ROOT else ""
if root != sys.argv[1]:
    print(root)
    raise SystemExit(3)
call_command("collectstatic", interactive=False, verbosity=1)
ignore = apps.get_app_config("staticfiles").ignore_patterns
missing = [
    os.path.join(getattr(storage, "prefix", None) or "", path)
    for finder in get_finders()
    for path, storage in finder.list(ignore)
]
missing = [path for path in missing if not os.path.exists(os.path.join(root, path))]
if missing:
    raise SystemExit(
        f"collectstatic left {len(missing)} of the app's static files out of {root}, such as"
        f" {missing[0]}: the staticfiles storage must write to STATIC_ROOT"
    )
"""
NEEDS_TARGET = 3
# A line of a requirements file: the distribution's name, its extras, its specifier.
REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")


class BuildError(Exception):
    pass


def venv_key(packages, requirements_digest, tree=""):
    """The virtualenv's name: 16 hex digits of the packages, the requirements file's
    sha256 ("" for none) and, for a package source, its tree (the package is installed
    into the virtualenv). Joined by a backslash and an n, as the role's Jinja named them
    before this module: the virtualenvs on hosts keep their names."""
    text = json.dumps(packages) + "\\n" + requirements_digest + ("\\n" + tree if tree else "")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def requirements_in_archive(archive, name):
    """The content of the member name of the tar.gz bytes archive, or None."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar:
            if posixpath.normpath(member.name) == name and member.isfile():
                return tar.extractfile(member).read()
    return None


def requirements_digest(content, name, included=()):
    """The sha256 of the requirements file's content, then of the files it includes (-r,
    -c); a file that includes none keeps the digest of its content alone."""
    if not name:
        return ""
    if content is None:
        raise BuildError(
            f"the requirements file '{name}' is not in the app's source; set it to the "
            'file\'s path in the source, or to "" for none'
        )
    digest = hashlib.sha256(content)
    for other in included:
        digest.update(b"\0" + other)
    return digest.hexdigest()


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def named_requirements(content):
    """{normalized name: the requirement as written} of a requirements file's content
    (bytes): its requirement lines, continuations joined, comments and options left out."""
    text = content.decode("utf-8", "replace").replace("\\\n", " ")
    named = {}
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        match = REQUIREMENT.match(line)
        if not line or line.startswith("-") or not match:
            continue
        requirement = (match.group(0).split(" --")[0]).strip()
        named.setdefault(normalized(match.group(1)), requirement)
    return named


def packages_to_install(packages, content):
    """The role's packages that pip installs beside the requirements file, and the
    (package, requirement) pairs where the app's requirements name the same
    distribution: the app's own pin wins, so pip never sees two versions of one."""
    named = named_requirements(content) if content is not None else {}
    install, overridden = [], []
    for package in packages:
        match = REQUIREMENT.match(package)
        requirement = named.get(normalized(match.group(1))) if match else None
        if requirement is None:
            install.append(package)
        else:
            overridden.append((package, requirement))
    return install, overridden


def plan(code, collectstatic, venv_complete, venv_install=False):
    """The steps of the build, in order: it stops before the virtualenv is needed where
    the virtualenv is not complete, unless it installs the virtualenv."""
    steps = [] if code == "present" else ["unpack" if code == "archive" else "copy package"]
    if not venv_complete:
        if not venv_install:
            return steps
        steps.append("install venv")
    return [*steps, "link venv", *(["collectstatic"] if collectstatic else []), "complete"]


def pip_settings(index_url, cert_file):
    """The virtualenv's pip.conf, which its pip reads by itself: the index (its URL may
    hold a password: in this file only, never on a command line) and the CA bundle."""
    lines = [
        "# Written by webstack.circus.app_build: pip's settings for this virtualenv.",
        "[global]",
    ]
    lines += [f"index-url = {index_url}"] if index_url else []
    lines += [f"cert = {cert_file}"] if cert_file else []
    return "\n".join(lines) + "\n"


def pip_install_argv(venv, log, find_links, install, package, requirement):
    """pip install of the role's packages, the package source and the requirements file in
    one run: one resolver sees them all, so no later install moves a version another needs."""
    argv = [os.path.join(venv, "bin", "pip"), "install", "--disable-pip-version-check"]
    argv += ["--log", log]
    argv += ["--no-index", "--find-links", find_links] if find_links else []
    argv += list(install)
    argv += [package] if package else []
    return argv + (["--requirement", requirement] if requirement else [])


def give_to(top, uid, gid):
    """Give top and everything below it to uid:gid (symlinks themselves, not followed)."""
    for directory, subdirectories, files in os.walk(top):
        os.lchown(directory, uid, gid)
        for name in subdirectories + files:
            os.lchown(os.path.join(directory, name), uid, gid)


class Build:
    def __init__(self, module, archive):
        self.module = module
        self.params = module.params
        self.archive = archive
        self.release_dir = os.path.join(self.params["path"], "releases", self.params["release"])
        self.partial = self.release_dir + ".partial"
        self.output = []

    def project(self):
        """The project's directory in the release being built; an error if the source
        has none there."""
        path = os.path.normpath(os.path.join(self.partial, "app", self.params["project_dir"]))
        if not os.path.isdir(path):
            raise BuildError(
                f"the source has no directory {self.params['project_dir']!r}"
                " (django_app_project_dir), where its manage.py would be"
            )
        return path

    def link_config(self):
        """Link each of config_files into the code, to the file of config/ in the app's
        home (written by the role), replacing what the source has at that path."""
        app = os.path.join(self.partial, "app")
        for name in self.params["config_files"]:
            link = os.path.join(app, name)
            if os.path.isdir(link) and not os.path.islink(link):
                raise BuildError(f"the source has a directory at {name}, a configuration file")
            os.makedirs(os.path.dirname(link), mode=0o755, exist_ok=True)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(os.path.join(self.params["path"], "config", name), link)

    def run(self, argv, label, accept=(0,)):
        """Run argv, a command of the app, in the project's directory: (rc, output), or a
        BuildError naming label when rc is not one of accept."""
        cwd = self.project()
        rc, out, err = self.module.run_command(self.command(argv), cwd=cwd)
        if rc not in accept:
            output = (err or out).strip()[-2000:]
            raise BuildError(f"{label} failed in {cwd} (rc {rc}): {output}")
        return rc, out

    def remove_other_partials(self):
        """What earlier builds of other releases left (one that failed and was never
        built again): no worker runs a partial release, and one build runs at a time."""
        releases = os.path.dirname(self.partial)
        for name in os.listdir(releases):
            path = os.path.join(releases, name)
            if name.endswith(".partial") and path != self.partial:
                shutil.rmtree(path)

    def unpack(self):
        if os.path.lexists(self.partial):
            shutil.rmtree(self.partial)
        os.makedirs(os.path.join(self.partial, "app"), mode=0o755)
        os.chmod(self.partial, 0o755)
        os.chmod(os.path.join(self.partial, "app"), 0o755)
        if self.params["code"] == "archive":
            rc, _out, err = self.module.run_command(
                ["tar", "--extract", "--gzip", "--no-same-owner", "--file", "-"],
                cwd=os.path.join(self.partial, "app"),
                data=self.archive,
                binary_data=True,
            )
            if rc != 0:
                raise BuildError(f"tar could not unpack the archive (rc {rc}): {err.strip()}")
        else:
            name = os.path.join(self.partial, self.params["filename"])
            with open(name, "wb") as package:
                package.write(self.archive)
            os.chmod(name, 0o644)

    def install_venv(self, venv, install):
        """The virtualenv, built by the app's user (pip runs the build scripts of the
        packages it installs, which must never run as root), then given to root (the
        workers, which run as the app's user, cannot change their code), then marked
        complete. What an interrupted install left is removed first."""
        params, user = self.params, pwd.getpwnam(self.params["user"])
        if os.path.lexists(venv):
            shutil.rmtree(venv)
        os.makedirs(venv, mode=0o755)
        os.chown(venv, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", params["user"], "--"]
        self.run_here([*as_user, "python3", "-m", "venv", venv], venv, "python3 -m venv")
        cert = params["pip_cert"]
        if cert.startswith("-----BEGIN"):
            cert = os.path.join(venv, "pip-ca.pem")
            write_file(cert, params["pip_cert"].strip() + "\n", 0o644)
        if params["pip_index_url"] or cert:
            write_file(
                os.path.join(venv, "pip.conf"),
                pip_settings(params["pip_index_url"], cert),
                0o640,
                group=user.pw_gid,
            )
        environment = {"PIP_CACHE_DIR": params["pip_cache"]} if params["pip_cache"] else {}
        if cert:
            # Overrides a PIP_CERT that the environment of the connection sets.
            environment["PIP_CERT"] = cert
        log = os.path.join(params["pip_cache"] or venv, f"pip-{os.path.basename(venv)}.log")
        requirement = params["requirements_file"] if params["code"] != "package" else ""
        argv = pip_install_argv(
            venv,
            log,
            params["pip_find_links"],
            install,
            os.path.join(self.partial, params["filename"]) if params["code"] == "package" else "",
            os.path.join(self.partial, "app", requirement) if requirement else "",
        )
        self.run_here([*as_user, *argv], venv, "pip install", environment)
        give_to(venv, 0, 0)
        write_file(
            os.path.join(venv, ".complete"), json.dumps(params["packages"], indent=4) + "\n", 0o644
        )

    def run_here(self, argv, cwd, label, environment=None):
        rc, out, err = self.module.run_command(argv, cwd=cwd, environ_update=environment or {})
        if rc != 0:
            output = (err.strip() + "\n" + out.strip()).strip()[-2000:]
            raise BuildError(f"{label} failed (rc {rc}): {output}")

    def finish(self, venv, steps):
        os.symlink(venv, os.path.join(self.partial, "venv"))
        static = os.path.join(self.partial, "static")
        if os.path.lexists(static):
            shutil.rmtree(static)
        os.mkdir(static, 0o755)
        user = pwd.getpwnam(self.params["user"])
        os.chown(static, user.pw_uid, user.pw_gid)
        app = os.path.join(self.partial, "app")
        commands = self.params["build_commands"]
        try:
            if commands:
                # Build steps write into the code (compiled messages, built assets).
                give_to(app, user.pw_uid, user.pw_gid)
            for argv in commands:
                _rc, out = self.run(argv, " ".join(argv))
                self.output.extend(output_lines(argv, out))
            if "collectstatic" in steps:
                self.collect(static, user)
        finally:
            # The app's user wrote them; from here on they are published, and root's.
            if commands:
                give_to(app, 0, 0)
            give_to(os.path.realpath(static), 0, 0)
        os.rename(self.partial, self.release_dir)

    def command(self, argv):
        return app_command(self.params["run_as"], self.partial, argv)

    def collect(self, static, user):
        """collectstatic where the app's settings put STATIC_ROOT: the release's static/
        (the settings read DJANGO_STATIC_ROOT), or a directory of the release's code,
        which static/ then links to. Anywhere else is refused, as is an empty result."""
        python = os.path.join(self.partial, "venv", "bin", "python")
        target = os.path.realpath(static)
        rc, out = self.run([python, "-c", COLLECT, target], "collectstatic", (0, NEEDS_TARGET))
        if rc == NEEDS_TARGET:
            target = self.static_target((out.strip().splitlines() or [""])[-1], static, user)
            _rc, out = self.run([python, "-c", COLLECT, target], "collectstatic")
        self.output.extend(output_lines(["collectstatic"], out, last=5))
        if not any(files for _directory, _subdirectories, files in os.walk(target)):
            raise BuildError(
                f"collectstatic put no file in {target}: if the app has no static files,"
                " set django_app_collectstatic to false"
            )

    def static_target(self, root, static, user):
        """Prepare root, the STATIC_ROOT of the app's own settings, for collectstatic."""
        app = os.path.realpath(os.path.join(self.partial, "app"))
        hint = (
            "read it from the environment, STATIC_ROOT = os.environ['DJANGO_STATIC_ROOT']"
            " (the role's release static/), or set it to a directory of the source"
        )
        if not root:
            raise BuildError(f"the app's settings set no STATIC_ROOT: {hint}")
        if not root.startswith(app + os.sep):
            raise BuildError(
                f"the app's STATIC_ROOT is {root}, outside the release, where the role"
                f" does not publish it: {hint}"
            )
        os.makedirs(root, mode=0o755, exist_ok=True)
        give_to(root, user.pw_uid, user.pw_gid)
        os.rmdir(static)
        os.symlink(os.path.relpath(root, self.partial), static)
        return root


def write_file(path, text, mode, group=0):
    """A file of root's (and group's) with this text, written whole."""
    with open(path, "w") as written:
        written.write(text)
    os.chown(path, 0, group)
    os.chmod(path, mode)


def read_archive(module):
    """The bytes of the archive or package: sent in the arguments, or a file on the host."""
    params = module.params
    if params["code"] == "present":
        return None
    if params["content"] is not None:
        return base64.b64decode(params["content"])
    if not params["src"]:
        module.fail_json(msg=f"src is required with code={params['code']}")
    try:
        with open(params["src"], "rb") as src:
            return src.read()
    except OSError as e:
        module.fail_json(msg=f"cannot read {params['src']}: {e.strerror}")


def requirements_contents(params, archive, partial):
    """The requirements file's content, then those of the files it includes (-r, -c),
    from the archive or the code on the host; [] without one, [None] if it is missing."""
    name = params["requirements_file"]
    if not name or params["code"] == "package":
        return []

    def read(path):
        if params["code"] == "archive":
            return requirements_in_archive(archive, posixpath.normpath(path))
        try:
            with open(os.path.join(partial, "app", path), "rb") as requirements:
                return requirements.read()
        except (FileNotFoundError, IsADirectoryError):
            return None

    return list(requirements_closure(name, read).values()) or [None]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            release=dict(type="str", required=True),
            code=dict(type="str", required=True, choices=["archive", "package", "present"]),
            src=dict(type="path"),
            remote_src=dict(type="bool", default=False),
            content=dict(type="str", no_log=True),
            filename=dict(type="str"),
            requirements_file=dict(type="str", default=""),
            packages=dict(type="list", elements="str", default=[]),
            tree=dict(type="str", default=""),
            user=dict(type="str", required=True),
            collectstatic=dict(type="bool", default=True),
            project_dir=dict(type="str", default=""),
            build_commands=dict(type="list", elements="list", default=[]),
            config_files=dict(type="list", elements="str", default=[]),
            venv_install=dict(type="bool", default=False),
            pip_index_url=dict(type="str", default="", no_log=True),
            pip_cert=dict(type="str", default=""),
            pip_cache=dict(type="path"),
            pip_find_links=dict(type="path"),
            # Taken by the action plugin; never reaches the module.
            wheelhouse=dict(type="dict"),
            **APP_COMMANDS_ARGUMENT_SPEC,
        ),
        supports_check_mode=True,
    )
    params = module.params
    params["build_commands"] = [[str(arg) for arg in argv] for argv in params["build_commands"]]
    project_dir = params["project_dir"]
    if project_dir and (
        os.path.isabs(project_dir) or ".." in project_dir.split("/") or "\x00" in project_dir
    ):
        module.fail_json(msg=f"project_dir must be a path inside the source, got {project_dir!r}")
    for name in params["config_files"]:
        if not name or os.path.isabs(name) or ".." in name.split("/") or "\x00" in name:
            module.fail_json(msg=f"config_files must be paths inside the source, got {name!r}")
    if not RELEASE_ID.match(params["release"]):
        module.fail_json(msg=f"release must be 16 hexadecimal digits, got {params['release']!r}")
    if not params["filename"] and params["src"]:
        params["filename"] = os.path.basename(params["src"])
    archive = read_archive(module)
    build = Build(module, archive)
    if os.path.isdir(build.release_dir):
        module.exit_json(
            changed=False,
            built=True,
            venv=os.path.realpath(os.path.join(build.release_dir, "venv")),
            venv_complete=True,
            release_dir=build.release_dir,
            install=params["packages"],
            actions=[],
            output=[],
        )
    try:
        if params["code"] == "present" and not os.path.isdir(os.path.join(build.partial, "app")):
            raise BuildError(f"no code in {build.partial}/app to build the release from")
        requirements, *included = requirements_contents(params, archive, build.partial) or [None]
        digest = requirements_digest(
            requirements,
            params["requirements_file"] if params["code"] != "package" else "",
            included,
        )
        install, overridden = packages_to_install(params["packages"], requirements)
        for package, requirement in overridden:
            module.warn(
                f"{params['requirements_file']} asks for {requirement!r}, which pip installs"
                f" in place of the role's {package!r}"
            )
        tree = params["tree"] if params["code"] == "package" else ""
        venv = os.path.join(params["path"], "venvs", venv_key(params["packages"], digest, tree))
        venv_complete = os.path.exists(os.path.join(venv, ".complete"))
        steps = plan(params["code"], params["collectstatic"], venv_complete, params["venv_install"])
        if steps and not module.check_mode:
            build.remove_other_partials()
            if steps[0] in ("unpack", "copy package"):
                build.unpack()
            if params["code"] != "package":
                build.link_config()
                build.project()
            if "install venv" in steps:
                build.install_venv(venv, install)
            if "complete" in steps:
                build.finish(venv, steps)
    except (BuildError, OSError) as e:
        module.fail_json(
            msg=f"release {params['release']}: {e}",
            release_dir=build.release_dir,
            output=build.output,
        )
    module.exit_json(
        changed=bool(steps),
        built="complete" in steps,
        venv=venv,
        venv_complete=venv_complete,
        release_dir=build.release_dir,
        install=install,
        actions=steps,
        output=build.output,
    )


if __name__ == "__main__":
    main()
