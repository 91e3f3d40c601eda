#!/usr/bin/python
# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: role_checks
short_description: Check a role's values against the rules of this collection's roles
version_added: 1.0.0
description:
  - Checks every variable of a role of this collection (V(circus), V(django_app),
    V(nginx_proxy)) as the task sees it against the role's rules, on the controller. Each
    value that lands in a file or a command line on the host must have the shape the role
    writes (an ipc:// socket in the run directory, a host:port, a dotted Python path, an
    nginx time), numbers within their ranges, and values that go together must agree.
  - Fails with one message per broken rule (RV(errors)), each naming the variable, what it
    must be and what it got; values that may hold a password are never shown.
  - The types and choices of the values are the role's argument specs' to check
    (M(ansible.builtin.validate_argument_spec)); run that first.
  - Nothing reaches the host. The rules are in C(plugins/plugin_utils/role_checks.py).
author:
  - webstack.circus maintainers (@webstack)
options:
  role:
    description: The role whose variables (named C(ROLE_*)) are checked.
    type: str
    required: true
    choices: [circus, django_app, nginx_proxy]
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
  diff_mode:
    support: none
  platform:
    platforms: all
notes:
  - For V(django_app), the apps of this run checked on the same host before (the role's
    C(__django_app_claims) fact) must take other ports, users and homes.
"""

EXAMPLES = r"""
- name: Check the app's values before anything changes
  webstack.circus.role_checks:
    role: django_app
"""

RETURN = r"""
errors:
  description: One message per broken rule, in the order of the rules.
  returned: failure
  type: list
  elements: str
  sample: ["django_app_socket_port must be from 1 to 65535 (got 70000)."]
"""
