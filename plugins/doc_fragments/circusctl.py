# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options shared by every module that talks to circusd through circusctl.
    DOCUMENTATION = r"""
options:
  endpoint:
    description:
      - The control endpoint of circusd, as in the C([circus] endpoint) setting.
      - If not set, the target's E(CIRCUSCTL_ENDPOINT) environment variable is used, and
        if that is not set either, Circus's default V(tcp://127.0.0.1:5555).
      - Prefer an C(ipc://) endpoint in a directory that only administrators can reach;
        anyone who can reach the endpoint controls every watcher.
    type: str
  timeout:
    description:
      - Seconds that circusctl waits for circusd to answer one command.
      - When a change waits for circusd to finish (the C(wait) option of
        M(webstack.circus.circus_watcher)), this must cover the whole operation, for
        example a graceful reload that waits for C(graceful_timeout) and C(warmup_delay).
      - An unreachable endpoint is only detected after this many seconds.
    type: int
    default: 30
  circusctl_path:
    description:
      - Path of the circusctl executable, for example V(/opt/circus/bin/circusctl) when
        Circus lives in a virtualenv.
      - If not set, circusctl is looked up on the target's E(PATH).
    type: path
requirements:
  - circus (circusctl) on the target; tested with circus 0.19.0.
notes:
  - circusctl is run with C(--json), an explicit C(--endpoint) and C(--timeout), and
    C(LC_ALL=C). A command refused because circusd is busy with another one
    (C(arbiter is already running ...)) is retried every half second for up to
    O(timeout) seconds.
"""
