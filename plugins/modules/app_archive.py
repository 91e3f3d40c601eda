#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_archive
short_description: Pack an app's source into one archive named by the hash of its content
version_added: 1.0.0
description:
  - Runs on the controller, in Ansible's own process (an action plugin), whatever host the
    task is for. Give it C(run_once) to pack once per play. The
    P(webstack.circus.django_app#role) role ships the archive to every app host in one
    transfer and unpacks it into a new release.
  - Relative paths are taken from the directory C(ansible-playbook) runs in.
  - A directory inside a git work tree ships what git would commit, its tracked files
    that still exist, and the untracked ones that neither C(.gitignore) nor the default
    exclusions below keep out (a new migration ships before C(git add)). Any other
    directory ships every file except C(__pycache__), C(*.pyc), C(.git), C(.venv),
    C(node_modules), local SQLite files (C(*.sqlite3), C(*.sqlite)) and the top-level
    C(media) directory.
  - O(exclude) drops more, in both cases. A pattern without C(/) matches a file or
    directory name at any depth; one that starts with C(/) matches a path from the
    top of the source (shell wildcards in both).
  - The hash (RV(tree)) covers each shipped file's path, content and executable bit, and
    each symlink's target, so it changes exactly when what would be shipped changes.
    An archive already built for that hash is reused.
  - A file (a wheel or an sdist) is not packed; RV(tree) is the hash of its content and
    RV(archive) the file itself.
author:
  - webstack.circus maintainers (@webstack)
options:
  src:
    description: The app's source directory, or a wheel or sdist file.
    type: path
    required: true
  dest:
    description: The directory where archives are kept, created if needed.
    type: path
    required: true
  exclude:
    description: More patterns of files and directories not to ship.
    type: list
    elements: str
    default: []
  max_age_days:
    description:
      - Archives in O(dest) that no run used for this many days are removed, so that the
        cache does not grow with every release. They are code archives (an archive is used when a
        run packs or reuses it), and the static files archives that the
        P(webstack.circus.django_app#role) role fetches from its hosts and that a failed
        run left. V(0) keeps every archive.
      - A removed archive is packed again when a run needs it. Removing archives does not
        make the task changed (RV(removed) lists them), since they are a cache.
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
      - In check mode the hash is computed and no archive is written or removed.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: webstack.circus.app_release
"""

EXAMPLES = r"""
- name: Pack the shop's code on the controller, once per play
  webstack.circus.app_archive:
    src: "{{ playbook_dir }}/shop"
    dest: "{{ lookup('ansible.builtin.env', 'HOME') }}/.cache/webstack.circus"
    exclude: ["*.log", "/docs"]
  run_once: true
  register: shop_archive
"""

RETURN = r"""
tree:
  description: SHA-256 of what is shipped (hexadecimal).
  returned: success
  type: str
  sample: 9b74c9897bac770ffc029102a200c5de7f1d9c4b1e7a0b2d5e93e2d8a4d1c6f0
archive:
  description: The archive to ship (or the package file itself).
  returned: success
  type: str
  sample: /root/.cache/webstack.circus/9b74c9897bac770f.tar.gz
kind:
  description: V(git) (what git would commit), V(directory) or V(package).
  returned: success
  type: str
  sample: git
files:
  description: The paths shipped, relative to O(src), sorted. Empty for a package.
  returned: success
  type: list
  elements: str
  sample: [manage.py, mysite/__init__.py, mysite/settings.py]
removed:
  description: The names of the archives removed from O(dest) (see O(max_age_days)), sorted.
  returned: success
  type: list
  elements: str
  sample: [3168f447e4e4d84e.tar.gz]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.controller_cache import CacheError
from ansible_collections.webstack.circus.plugins.module_utils.source_archive import (
    ARGUMENT_SPEC,
    SourceError,
    pack,
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    try:
        result = pack(
            module.params["src"],
            module.params["dest"],
            module.params["exclude"],
            module.params["max_age_days"],
            check_mode=module.check_mode,
        )
    except (SourceError, CacheError, OSError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
