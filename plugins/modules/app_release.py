#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_release
short_description: Read and switch the releases of an app on a host
version_added: 1.0.0
description:
  - Works on the layout the P(webstack.circus.django_app#role) role builds under an app's
    home. C(releases/ID) holds each release (code, a link to its virtualenv, its static
    files); C(current) links to the release in use; C(deploy-state.json) records the order
    in which releases became current and what the workers were last reloaded onto.
  - O(state=read) reads all of it in one call and changes nothing (but making the host's
    digest key when it has none, see O(secrets)).
  - O(state=current) points C(current) at O(release) in one rename, so that a process
    that resolves the link sees the old release or the new one, never none.
  - O(state=loaded) records O(loaded) as what the workers run, and deletes the releases
    beyond the O(keep) newest, never the current one or the one before it, then the
    virtualenvs no remaining release uses.
author:
  - webstack.circus maintainers (@webstack)
options:
  path:
    description: The app's home, where C(releases/) and C(current) are.
    type: path
    required: true
  state:
    description: Read, switch C(current), or record what the workers run and prune.
    type: str
    choices: [read, current, loaded]
    default: read
  release:
    description:
      - The release id (16 hexadecimal digits). Required for O(state=current).
      - With O(state=read), also report the migrations that the current release ships
        and this one does not (RV(migrations_lost)).
      - With O(state=loaded), the release being deployed, which pruning never deletes
        (it may not be current yet).
    type: str
  loaded:
    description:
      - What the workers were reloaded onto, for O(state=loaded) (the role records the
        release id and the hash of the workers' hook module).
    type: str
  keep:
    description:
      - With O(state=loaded), how many releases to keep, newest first. At least 2.
    type: int
    default: 5
  secrets:
    description:
      - With O(state=read), the secret values the workers run with (never logged), whose
        digest RV(secrets_digest) returns keyed by the host, for the role to tell what the
        workers were loaded with without a digest anyone could test guesses against.
    type: raw
  digest_key:
    description:
      - The host's digest key, made (C(0600)) when missing, as by M(webstack.circus.run_record).
    type: path
    default: /var/lib/webstack/records/.digest-key
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the current release and the recorded C(loaded) before and after.
  platform:
    platforms: posix
seealso:
  - module: webstack.circus.app_archive
"""

EXAMPLES = r"""
- name: Read the releases of the shop
  webstack.circus.app_release:
    path: /srv/shop
  register: shop

- name: Point current at a release that was built
  webstack.circus.app_release:
    path: /srv/shop
    state: current
    release: 3f2a9c0d41b7e865

- name: Record that the workers run it, keep the three newest releases
  webstack.circus.app_release:
    path: /srv/shop
    state: loaded
    loaded: 3f2a9c0d41b7e865+0c1d
    keep: 3
"""

RETURN = r"""
releases:
  description: The complete releases on the host, oldest first.
  returned: always
  type: list
  elements: str
  sample: [5d41402abc4b2a76, 3f2a9c0d41b7e865]
current:
  description: The release C(current) points at, "" if none.
  returned: always
  type: str
  sample: 3f2a9c0d41b7e865
previous:
  description: The release that was current before it and is still on the host, "" if none.
  returned: always
  type: str
  sample: 5d41402abc4b2a76
loaded:
  description: What the workers were last reloaded onto, as recorded; "" if never.
  returned: always
  type: str
  sample: 3f2a9c0d41b7e865+0c1d
history:
  description: Release ids in the order they became current, oldest first.
  returned: always
  type: list
  elements: str
removed:
  description: Releases deleted (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
removed_venvs:
  description: Virtualenvs deleted because no remaining release used them.
  returned: always
  type: list
  elements: str
secrets_digest:
  description:
    - With O(state=read) and O(secrets), their digest keyed by the host's key (HMAC-SHA256);
      "" in check mode on a host that has no key yet.
  returned: always
  type: str
migrations_lost:
  description:
    - With O(state=read) and O(release), the migrations (C(app/migrations/0002_name))
      that the current release ships and O(release) does not.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.webstack.circus.plugins.module_utils.host_digest import (
    KEY_PATH,
    host_key,
    value_digest,
)
from ansible_collections.webstack.circus.plugins.module_utils.releases import (
    RELEASE_ID,
    current_release,
    migrations_lost_by_going_back,
    ordered,
    present_releases,
    previous_release,
    read_state,
    record_loaded,
    switch_current,
    with_current,
    write_state,
)


def describe(home):
    state = read_state(home)
    present = present_releases(home)
    current = current_release(home)
    return dict(
        releases=ordered(state["history"], present),
        current=current,
        previous=previous_release(state["history"], current, present),
        loaded=state["loaded"],
        history=state["history"],
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["read", "current", "loaded"], default="read"),
            release=dict(type="str"),
            loaded=dict(type="str"),
            keep=dict(type="int", default=5),
            secrets=dict(type="raw", no_log=True),
            digest_key=dict(type="path", default=KEY_PATH, no_log=False),
        ),
        required_if=[("state", "current", ["release"]), ("state", "loaded", ["loaded"])],
        supports_check_mode=True,
    )
    home, state, release = module.params["path"], module.params["state"], module.params["release"]
    if release is not None and not RELEASE_ID.match(release):
        module.fail_json(msg=f"release must be 16 hexadecimal digits, got {release!r}")
    if module.params["keep"] < 2:
        module.fail_json(
            msg="keep must be 2 or more (the release in use and the one before it), "
            f"got {module.params['keep']}"
        )
    before = describe(home)
    # What describe() read, reused below rather than read from disk again.
    recorded = {"history": before["history"], "loaded": before["loaded"]}
    result = dict(
        changed=False, removed=[], removed_venvs=[], migrations_lost=[], secrets_digest=""
    )

    if state == "read":
        if module.params["secrets"] is not None:
            key = host_key(module.params["digest_key"], create=not module.check_mode)
            if key is not None:
                result["secrets_digest"] = value_digest(key, module.params["secrets"])
        if release and before["current"] and release != before["current"]:
            if release not in before["releases"]:
                module.fail_json(msg=f"no release {release} in {home}/releases", **before)
            result["migrations_lost"] = migrations_lost_by_going_back(
                os.path.join(home, "releases", before["current"], "app"),
                os.path.join(home, "releases", release, "app"),
            )

    elif state == "current":
        if release not in before["releases"]:
            module.fail_json(
                msg=f"no release {release} in {home}/releases to make current "
                f"(present: {', '.join(before['releases']) or 'none'})",
                **before,
            )
        history = with_current(recorded["history"], release)
        result["changed"] = before["current"] != release or history != recorded["history"]
        if result["changed"] and not module.check_mode:
            switch_current(home, release)
            write_state(home, dict(recorded, history=history))

    else:
        result["changed"], result["removed"], result["removed_venvs"] = record_loaded(
            home, module.params["loaded"], module.params["keep"], release, module.check_mode
        )

    after = describe(home) if not module.check_mode else before
    if module.check_mode and state == "current" and result["changed"]:
        after = dict(before, current=release)
    if module.check_mode and state == "loaded":
        after = dict(before, loaded=module.params["loaded"])
    if module._diff:
        result["diff"] = dict(
            before={"current": before["current"], "loaded": before["loaded"]},
            after={"current": after["current"], "loaded": after["loaded"]},
        )
    module.exit_json(**dict(after, **result))


if __name__ == "__main__":
    main()
