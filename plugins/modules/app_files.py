#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_files
short_description: Write a set of small configuration files in one call, and remove the stale ones
version_added: 1.0.0
description:
  - Writes each file of O(files) whose content differs, owned by root with O(mode), in one
    rename (a reader sees the old file or the new one), and removes the files that match
    O(remove_unlisted) but are not in O(files).
  - The P(webstack.circus.django_app#role) role writes an app's Circus files with it (its
    socket, its watcher and one watcher per other program), rendered on the controller
    with the C(ansible.builtin.template) lookup, in one command on the host instead of
    several per file.
author:
  - webstack.circus maintainers (@webstack)
options:
  files:
    description: Each file's absolute path and its content. Their directories must exist.
    type: dict
    required: true
  mode:
    description: The mode of the files written, in octal digits.
    type: str
    default: "0644"
  remove_unlisted:
    description:
      - A shell wildcard of absolute paths (such as V(/etc/circus/conf.d/shop-*.ini)); the
        files it matches that O(files) does not list are removed.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Shows each changed file's content before and after.
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Write the app's Circus files
  webstack.circus.app_files:
    files:
      /etc/circus/conf.d/shop.ini: "{{ lookup('template', 'watcher.ini.j2') }}"
      /etc/circus/conf.d/shop.socket.ini: "{{ lookup('template', 'socket.ini.j2') }}"
    remove_unlisted: /etc/circus/conf.d/shop-*.ini
"""

RETURN = r"""
written:
  description: The files written (in check mode, that would be), missing or not as wanted.
  returned: always
  type: list
  elements: str
created:
  description: Those of RV(written) that did not exist before.
  returned: always
  type: list
  elements: str
removed:
  description: The files removed (in check mode, that would be).
  returned: always
  type: list
  elements: str
"""

import glob
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule


def state_of(path):
    """The file's (content, mode, uid, gid), or None where there is none."""
    try:
        with open(path, "rb") as existing:
            info = os.fstat(existing.fileno())
            return existing.read(), info.st_mode & 0o7777, info.st_uid, info.st_gid
    except FileNotFoundError:
        return None


def plan(files, unlisted, states, mode):
    """(written, created, removed): the files of files (path -> text) that states (path ->
    state_of) does not show as root's with this content and mode, those of them that are
    missing, and the unlisted files to remove."""
    written = sorted(
        path for path, content in files.items() if states[path] != (content.encode(), mode, 0, 0)
    )
    created = [path for path in written if states[path] is None]
    removed = sorted(set(unlisted) - set(files))
    return written, created, removed


def write(path, content, mode):
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".webstack.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temporary, mode)
        os.chown(temporary, 0, 0)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="dict", required=True),
            mode=dict(type="str", default="0644"),
            remove_unlisted=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    files = {path: str(content) for path, content in module.params["files"].items()}
    try:
        mode = int(module.params["mode"], 8)
    except ValueError:
        module.fail_json(
            msg=f"mode must be octal digits such as 0644, got {module.params['mode']!r}"
        )
    for path in files:
        if not os.path.isabs(path):
            module.fail_json(msg=f"files: {path!r} is not an absolute path")
        # In check mode a run that would create the directory first has not.
        if not module.check_mode and not os.path.isdir(os.path.dirname(path)):
            module.fail_json(msg=f"files: the directory of {path} does not exist")
    pattern = module.params["remove_unlisted"]
    unlisted = glob.glob(pattern) if pattern else []
    states = {path: state_of(path) for path in files}
    written, created, removed = plan(files, unlisted, states, mode)
    before = {path: (states.get(path) or state_of(path) or [b""])[0] for path in written + removed}
    if not module.check_mode:
        try:
            for path in written:
                write(path, files[path].encode(), mode)
            for path in removed:
                os.unlink(path)
        except OSError as e:
            module.fail_json(msg=f"{e.filename}: {e.strerror}", written=[], created=[], removed=[])
    result = dict(
        changed=bool(written or removed), written=written, created=created, removed=removed
    )
    if module._diff:
        result["diff"] = [
            dict(
                before_header=path,
                after_header=path,
                before=before[path].decode(errors="replace"),
                after=files.get(path, ""),
            )
            for path in written + removed
        ]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
