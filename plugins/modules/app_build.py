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
    it, runs Django's C(collectstatic) in the release as the app's user, gives the
    collected files to root and completes the release. Otherwise it stops before that
    with RV(built) false and RV(venv) naming the virtualenv to install; call it again
    with O(code=present) once it is installed.
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
    description: The packages the virtualenv holds beside the requirements file (the server first).
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
    description: Whether to run C(python -m django collectstatic --noinput) in the release.
    type: bool
    default: true
  project_dir:
    description:
      - The Django project's directory (where C(manage.py) is) inside the source, relative
        to its root; V("") is the root. C(collectstatic) runs there; a source without it
        fails the build.
    type: str
    default: ""
  run_as:
    description:
      - The command that runs a program of the app as its user with its environment (the
        role's C(webstack_run.py ENVIRONMENT --user USER --)); C(collectstatic) is run
        behind it, in C(app/) (or C(app/PROJECT_DIR)).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
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
"""

import base64
import hashlib
import io
import json
import os
import posixpath
import pwd
import shutil
import tarfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.releases import RELEASE_ID


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


def requirements_digest(content, name):
    if not name:
        return ""
    if content is None:
        raise BuildError(
            f"the requirements file '{name}' is not in the app's source; set it to the "
            'file\'s path in the source, or to "" for none'
        )
    return hashlib.sha256(content).hexdigest()


def plan(code, collectstatic, venv_complete):
    """The steps of the build, in order: it stops before the virtualenv is needed where
    the virtualenv is not complete."""
    steps = [] if code == "present" else ["unpack" if code == "archive" else "copy package"]
    if not venv_complete:
        return steps
    return [*steps, "link venv", *(["collectstatic"] if collectstatic else []), "complete"]


def give_to_root(top):
    for directory, subdirectories, files in os.walk(top):
        os.lchown(directory, 0, 0)
        for name in subdirectories + files:
            os.lchown(os.path.join(directory, name), 0, 0)


class Build:
    def __init__(self, module, archive):
        self.module = module
        self.params = module.params
        self.archive = archive
        self.release_dir = os.path.join(self.params["path"], "releases", self.params["release"])
        self.partial = self.release_dir + ".partial"

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

    def run(self, command, cwd):
        rc, out, err = self.module.run_command(command, cwd=cwd)
        if rc != 0:
            output = (err or out).strip()[-2000:]
            raise BuildError(f"{' '.join(command[-4:])} failed in {cwd} (rc {rc}): {output}")
        return out

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

    def finish(self, venv, steps):
        os.symlink(venv, os.path.join(self.partial, "venv"))
        static = os.path.join(self.partial, "static")
        if os.path.lexists(static):
            shutil.rmtree(static)
        os.mkdir(static, 0o755)
        user = pwd.getpwnam(self.params["user"])
        os.chown(static, user.pw_uid, user.pw_gid)
        if "collectstatic" in steps:
            python = os.path.join(self.partial, "venv", "bin", "python")
            self.run(
                [*self.params["run_as"], python, "-m", "django", "collectstatic", "--noinput"],
                cwd=self.project(),
            )
        # The app's user wrote them; from here on they are published, and root's.
        give_to_root(static)
        os.rename(self.partial, self.release_dir)


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


def requirements_content(params, archive, partial):
    name = params["requirements_file"]
    if not name or params["code"] == "package":
        return None
    if params["code"] == "archive":
        return requirements_in_archive(archive, posixpath.normpath(name))
    try:
        with open(os.path.join(partial, "app", name), "rb") as requirements:
            return requirements.read()
    except FileNotFoundError:
        return None


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
            run_as=dict(type="list", elements="str", default=[]),
            project_dir=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    params = module.params
    project_dir = params["project_dir"]
    if project_dir and (
        os.path.isabs(project_dir) or ".." in project_dir.split("/") or "\x00" in project_dir
    ):
        module.fail_json(msg=f"project_dir must be a path inside the source, got {project_dir!r}")
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
            actions=[],
        )
    try:
        if params["code"] == "present" and not os.path.isdir(os.path.join(build.partial, "app")):
            raise BuildError(f"no code in {build.partial}/app to build the release from")
        digest = requirements_digest(
            requirements_content(params, archive, build.partial),
            params["requirements_file"] if params["code"] != "package" else "",
        )
        tree = params["tree"] if params["code"] == "package" else ""
        venv = os.path.join(params["path"], "venvs", venv_key(params["packages"], digest, tree))
        venv_complete = os.path.exists(os.path.join(venv, ".complete"))
        steps = plan(params["code"], params["collectstatic"], venv_complete)
        if steps and not module.check_mode:
            if steps[0] in ("unpack", "copy package"):
                build.unpack()
            if params["code"] != "package":
                build.project()
            if "complete" in steps:
                build.finish(venv, steps)
    except (BuildError, OSError) as e:
        module.fail_json(msg=f"release {params['release']}: {e}", release_dir=build.release_dir)
    module.exit_json(
        changed=bool(steps),
        built="complete" in steps,
        venv=venv,
        venv_complete=venv_complete,
        release_dir=build.release_dir,
        actions=steps,
    )


if __name__ == "__main__":
    main()
