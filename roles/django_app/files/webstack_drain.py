# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Graceful shutdown for Chaussette's wsgiref backend.

Chaussette 1.3 has no graceful shutdown: SIGTERM, which Circus sends to the old workers
of a reload, kills a worker in the middle of a request. Run as Chaussette's pre-hook
(``chaussette --pre-hook webstack_drain.install ...``), this module makes SIGTERM only
ask the worker to stop: the request in progress is finished and answered, no new
connection is accepted, and the worker exits. Connections it has not accepted stay in
the socket's queue for the other workers, since Circus owns the socket.

The wsgiref server (socketserver) calls ``service_actions`` between two requests and at
least every half second while idle; that is where the worker stops, so it never stops
inside a request and never exits with a connection accepted but not served.
"""

import signal
import socketserver
import sys


def install(args=None):
    """Chaussette pre-hook: make SIGTERM drain the worker instead of killing it."""
    del args
    stopping = []
    serve_between_requests = socketserver.BaseServer.service_actions

    def ask_to_stop(signum, frame):
        del signum, frame
        stopping.append(True)

    def service_actions(server):
        serve_between_requests(server)
        if stopping:
            sys.exit(0)

    socketserver.BaseServer.service_actions = service_actions
    signal.signal(signal.SIGTERM, ask_to_stop)
