# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options of the modules that run an app's own commands in a release.
    DOCUMENTATION = r"""
options:
  run_as:
    description:
      - The command that runs a program of the app as its user with its environment (the
        role's C(webstack_run.py ENVIRONMENT --user USER --)). The app's commands run
        behind it, in C(app/) of the release (or C(app/PROJECT_DIR)), with the release's
        virtualenv first in E(PATH), then C(/usr/local/bin:/usr/bin:/bin).
    type: list
    elements: str
    default: []
  hide:
    description:
      - Values (the app's secrets) replaced by C(********) wherever the commands' output
        would show them.
    type: list
    elements: str
    default: []
"""
