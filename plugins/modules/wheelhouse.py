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
  - For hosts that cannot reach a package index. The action runs on the controller, where
    it builds the archive; with O(host_path) it also reads the host's platform and the
    wheelhouses it holds (one command), and unless the host holds this one alone, ships the
    archive in one transfer and unpacks it into O(host_path)/RV(key) (one command), which
    C(pip install --no-index --find-links) installs from. The
    P(webstack.circus.circus#role) and P(webstack.circus.django_app#role) roles use it so.
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
      - Required without O(host_path); with it, read from the host's C(python3) when not given.
    type: str
  machine:
    description:
      - The host's CPU as Python's C(platform.machine()) names it (V(x86_64)).
      - Required without O(host_path); with it, read from the host when not given.
    type: str
  glibc:
    description:
      - The host's GNU C library version (V(2.41)), which bounds its manylinux tags.
      - Required without O(host_path); with it, read from the host when not given.
    type: str
  host_path:
    description:
      - The directory on the host that holds the wheelhouses, one directory per archive,
        named by RV(key), with a C(.complete) file written last. Created (root's, V(0755))
        when the archive is shipped; every other directory in it is removed, those of
        earlier runs and one left partial.
      - Without it the task only builds on the controller.
    type: path
    version_added: 1.1.0
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
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - In check mode the host is read, the name is computed, and nothing is downloaded,
        written, shipped or removed; the task is changed when the controller lacks the
        archive or the host does not hold it alone.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: webstack.circus.app_archive
"""

EXAMPLES = r"""
- name: Ship the wheels of Circus to a host that reaches no index
  webstack.circus.wheelhouse:
    dest: "{{ lookup('ansible.builtin.env', 'HOME') }}/.cache/webstack.circus/wheelhouses"
    requirements: [circus==0.19.0]
    host_path: /var/cache/webstack/wheelhouses/circus
  register: circus_wheels

- name: Install from them alone
  ansible.builtin.pip:
    name: circus==0.19.0
    virtualenv: /opt/circus
    extra_args: "--no-index --find-links {{ circus_wheels.path }}"

- name: Only build, for a host whose platform is known
  webstack.circus.wheelhouse:
    dest: /srv/wheelhouses
    requirements: [circus==0.19.0]
    python_version: "3.11.2"
    machine: x86_64
    glibc: "2.36"
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
path:
  description: Where the wheels are on the host, O(host_path)/RV(key).
  returned: when O(host_path) is given
  type: str
  sample: /var/cache/webstack/wheelhouses/circus/3f2a9c0d4b1e7a52
platforms:
  description: The platform tags the wheels were chosen for, most specific first.
  returned: success
  type: list
  elements: str
  sample: [manylinux_2_36_x86_64, manylinux_2_35_x86_64]
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.wheelhouse import (
    ARGUMENT_SPEC,
    WheelhouseError,
    build_wheelhouse,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["host_path"]:
        module.fail_json(msg="host_path is handled by the action plugin, on the controller")
    try:
        result = build_wheelhouse(module.params, check_mode=module.check_mode)
    except WheelhouseError as error:
        module.fail_json(msg=str(error))
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
