# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hooks the django_app role runs in its workers: readiness and, for Chaussette, drain.

Readiness. Once a worker has loaded the app, it writes an empty file named after the
pid Circus started into the directory named by WEBSTACK_READY_DIR. circus_watcher's
surge reload (``ready_dir``) waits for these files before it stops the old workers, so
the socket always has a worker that has loaded the app. Chaussette imports the app before
its pre-hook runs; gunicorn calls ``post_worker_init`` in its worker, whose parent (the
gunicorn master) is the process Circus started; uvicorn calls the app factory ``asgi``,
which imports the app named by WEBSTACK_ASGI_APP.

Drain. Chaussette 1.3 has no graceful shutdown: SIGTERM, which Circus sends to the old
workers of a reload, kills a worker in the middle of a request. With the pre-hook
``serve``, SIGTERM only asks the worker to stop: the request in progress is finished and
answered, no new connection is accepted, and the worker exits. Connections it has not
accepted stay in the socket's queue for the other workers, since Circus owns the socket.
The wsgiref server (socketserver) calls ``service_actions`` between two requests and at
least every half second while idle; that is where the worker stops, so it never stops
inside a request and never exits with a connection accepted but not served. It accepts
without blocking: every worker of the watcher waits on the one socket, a connection wakes
them all and one takes it; on a blocking socket the others would wait inside accept(),
never between two requests, and outlive SIGTERM until Circus killed them at its
graceful_timeout (a surge reload then waited that long for idle old workers).
gunicorn and uvicorn drain by themselves.

Access log. wsgiref writes one line per request on stderr, which circusd carries to the
app's log; both hooks leave it out unless WEBSTACK_ACCESS_LOG is "1" (the role's
django_app_access_log; gunicorn and uvicorn have their own switches). Error lines stay.

Usage: ``chaussette --pre-hook webstack_worker.serve ...`` (or ``serve_without_drain``),
``gunicorn --config python:webstack_worker ...``,
``WEBSTACK_ASGI_APP=mysite.asgi:application uvicorn --factory webstack_worker:asgi ...``.
"""

import importlib
import os
import signal
import socketserver
import sys
import wsgiref.simple_server


def announce_ready(pid):
    """Write WEBSTACK_READY_DIR/PID; a worker that cannot only says so on stderr."""
    ready_dir = os.environ.get("WEBSTACK_READY_DIR")
    if not ready_dir:
        return
    try:
        with open(os.path.join(ready_dir, str(pid)), "w"):
            pass
    except OSError as error:
        print(f"webstack_worker: cannot announce readiness: {error}", file=sys.stderr)


def drain_on_sigterm():
    """Make SIGTERM stop the wsgiref server between two requests instead of killing it."""
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
    accept_without_blocking()


def accept_without_blocking():
    """Make a worker that loses the race for a connection go back to waiting at once:
    the server ignores the accept() that fails with EAGAIN. The flag belongs to the
    socket all the workers share, and Chaussette sets it blocking when a worker starts,
    so it is set again before each accept()."""
    accept = socketserver.TCPServer.get_request

    def get_request(server):
        server.socket.setblocking(False)
        return accept(server)

    socketserver.TCPServer.get_request = get_request


def log_requests_only_if_asked():
    """Drop wsgiref's line per request unless WEBSTACK_ACCESS_LOG is "1". Its other
    lines (a malformed request, a timeout) go through log_message, and stay."""
    if os.environ.get("WEBSTACK_ACCESS_LOG") != "1":
        wsgiref.simple_server.WSGIRequestHandler.log_request = lambda self, *args: None


def serve(args=None):
    """Chaussette pre-hook: drain on SIGTERM, then announce that the app is loaded."""
    del args
    log_requests_only_if_asked()
    drain_on_sigterm()
    announce_ready(os.getpid())


def serve_without_drain(args=None):
    """Chaussette pre-hook without the drain (django_app_drain: false)."""
    del args
    log_requests_only_if_asked()
    announce_ready(os.getpid())


def post_worker_init(worker):
    """gunicorn hook, run in the worker once it has loaded the app."""
    announce_ready(worker.ppid)


def asgi():
    """uvicorn app factory: import the ASGI app named by WEBSTACK_ASGI_APP
    ("package.module:attribute"), announce that it is loaded, and return it."""
    module, attribute = os.environ["WEBSTACK_ASGI_APP"].split(":", 1)
    application = getattr(importlib.import_module(module), attribute)
    announce_ready(os.getpid())
    return application
