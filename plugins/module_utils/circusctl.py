# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small client for circusd that drives circusctl, shared by the circus_* modules.

circusctl is always called with --json, an explicit --endpoint and --timeout, and
LC_ALL=C. Observed on circus 0.19.0: with --json circusctl exits 0 even when circusd
refuses a command (the reply's "status" is "error"), and an unreachable daemon looks
exactly like a slow command ("Timed out.", rc 1).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import selectors
import shlex
import subprocess
import time

from ansible.module_utils.basic import env_fallback

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"

# circusd answers a command sent while another one runs with this reason (errno 5,
# which circus also uses for other command errors, so the reason is what is matched).
BUSY_REASON = "arbiter is already running"
NOT_FOUND_SUFFIX = " not found"

RUNNING_STATES = ("active", "starting")

CONNECTION_ARGUMENT_SPEC = dict(
    endpoint=dict(type="str", fallback=(env_fallback, ["CIRCUSCTL_ENDPOINT"])),
    timeout=dict(type="int", default=30),
    circusctl_path=dict(type="path"),
)


class CircusError(Exception):
    """circusctl failed or circusd refused a command; details go into fail_json."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class WatcherNotFound(CircusError):
    pass


class ArbiterBusy(CircusError):
    """circusd was running another command, or its periodic check of the watchers."""


def refusal(endpoint, args, reply, **details):
    """The error for a reply whose status is "error"."""
    reason = reply.get("reason", "")
    if reason.startswith(BUSY_REASON):
        error = ArbiterBusy
    elif reason.endswith(NOT_FOUND_SUFFIX):
        error = WatcherNotFound
    else:
        error = CircusError
    return error(
        f"circusd at {endpoint} refused '{' '.join(args)}': {reason}", reply=reply, **details
    )


def timed_out(endpoint, timeout, **details):
    """The error for circusctl's "Timed out.": circusd is unreachable or was slow."""
    return CircusError(
        f"circusctl timed out after {timeout}s talking to circusd at {endpoint}: check that "
        "circusd is running and that this is its control endpoint; if it is, the command "
        "took longer than timeout",
        **details,
    )


def endpoint_refusal(endpoint):
    """Why this process may not connect to an ipc:// endpoint, or None. circusctl cannot
    tell: refused by the socket's permissions, it says "Timed out." once its timeout has
    passed, as for a daemon that does not answer. Connecting to a unix socket takes write
    permission on it and search permission on its directories. A socket that is not
    there is left to circusctl: circusd may be starting."""
    if not endpoint.startswith("ipc://"):
        return None
    path = endpoint[len("ipc://") :]
    try:
        os.stat(path)
    except FileNotFoundError:
        return None
    except PermissionError:
        denied = f"cannot reach {path}"
    else:
        if os.access(path, os.W_OK):
            return None
        denied = f"may not write to {path}"
    user = pwd.getpwuid(os.geteuid()).pw_name
    return (
        f"permission denied on {endpoint}: {user} {denied}; run as root (become) or as a "
        "member of the group allowed there (the circus role's circus_admin_group)"
    )


class CircusClient:
    """Runs circusctl commands and returns circusd's parsed JSON replies."""

    def __init__(
        self,
        module,
        circusctl,
        endpoint,
        timeout,
        busy_retries=None,
        busy_delay=0.5,
        sleep=time.sleep,
    ):
        self.module = module
        self.circusctl = circusctl
        self.endpoint = endpoint
        self.timeout = timeout
        # A busy arbiter (a reloadconfig, a slow reload) is waited for as long as one
        # command may take.
        self.busy_retries = int(timeout / busy_delay) if busy_retries is None else busy_retries
        self.busy_delay = busy_delay
        self.sleep = sleep
        # The circusctl shell the calls go through, inside one_shell().
        self.shell = None

    @classmethod
    def from_module(cls, module):
        """Build a client from the options in CONNECTION_ARGUMENT_SPEC, or fail the module."""
        circusctl = module.params["circusctl_path"]
        if circusctl is None:
            circusctl = module.get_bin_path("circusctl", required=False)
            if circusctl is None:
                module.fail_json(
                    msg="circusctl was not found on the PATH; install circus or "
                    "set circusctl_path (for example /opt/circus/bin/circusctl)"
                )
        elif not (os.path.isfile(circusctl) and os.access(circusctl, os.X_OK)):
            module.fail_json(msg=f"circusctl_path {circusctl} is not an executable file")
        if module.params["timeout"] < 1:
            module.fail_json(
                msg=f"timeout must be at least 1 second, got {module.params['timeout']}"
            )
        endpoint = module.params["endpoint"] or DEFAULT_ENDPOINT
        refused = endpoint_refusal(endpoint)
        if refused:
            module.fail_json(msg=refused, endpoint=endpoint)
        return cls(module, circusctl, endpoint, module.params["timeout"])

    @contextlib.contextmanager
    def one_shell(self):
        """Send the calls made inside through one circusctl shell (CircusSession): a
        module that makes a dozen calls starts circusctl once instead of a dozen times
        (about 0.2-0.3 s each)."""
        with self.session() as shell:
            self.shell = shell
            try:
                yield self
            finally:
                self.shell = None

    def call(self, *args):
        """Run one circusctl command; retry while circusd is busy with another command."""
        cmd = [self.circusctl, "--endpoint", self.endpoint, "--timeout", str(self.timeout)]
        cmd += ["--json", *args]
        attempt = 0
        while True:
            if self.shell is None:
                rc, stdout, stderr = self.module.run_command(cmd, environ_update={"LC_ALL": "C"})
                reply = self._parse(cmd, rc, stdout, stderr)
                details = dict(cmd=cmd, rc=rc, stdout=stdout, stderr=stderr)
            else:
                reply, details = self.shell.ask(*args), dict(cmd=cmd)
            if reply.get("status") != "error":
                return reply
            error = refusal(self.endpoint, args, reply, **details)
            if isinstance(error, ArbiterBusy) and attempt < self.busy_retries:
                attempt += 1
                self.sleep(self.busy_delay)
                continue
            raise error

    def _parse(self, cmd, rc, stdout, stderr):
        details = dict(cmd=cmd, rc=rc, stdout=stdout, stderr=stderr)
        if rc != 0:
            if "Timed out." in stdout + stderr:
                raise timed_out(self.endpoint, self.timeout, **details)
            last_line = ((stderr or stdout).strip().splitlines() or ["no output"])[-1]
            raise CircusError(
                f"circusctl failed with rc {rc}: {last_line}",
                **details,
            )
        try:
            reply = json.loads(stdout)
        except ValueError:
            raise CircusError("circusctl printed something that is not JSON", **details) from None
        if not isinstance(reply, dict) or "status" not in reply:
            raise CircusError("circusctl replied without a status", **details)
        return reply

    # Reads

    def watchers(self):
        return self.call("list")["watchers"]

    def watcher(self, name):
        """Status, configured numprocesses and live pids of one watcher."""
        try:
            status = self.call("status", name)["status"]
        except WatcherNotFound as e:
            known = ", ".join(self.watchers()) or "none"
            raise WatcherNotFound(
                f"circusd at {self.endpoint} has no watcher named {name} (it has: {known})",
                **e.details,
            ) from e
        return dict(
            status=status,
            numprocesses=self.call("get", name, "numprocesses")["options"]["numprocesses"],
            pids=self.pids(name),
        )

    def pids(self, name):
        return sorted(self.call("list", name)["pids"])

    def stats(self, name):
        return self.call("stats", name)["info"]

    def sockets(self):
        return self.call("listsockets")["sockets"]

    # Changes: each waits for circusd to finish when wait is true.

    def set_numprocesses(self, name, numprocesses, wait):
        self.call("set", name, "numprocesses", str(numprocesses), *self._waiting(wait))

    def start(self, name, wait):
        self.call("start", name, *self._waiting(wait))

    def stop(self, name, wait):
        self.call("stop", name, *self._waiting(wait))

    def reload(self, name, sequential, wait):
        """Graceful reload: new processes first unless sequential; returns pid changes."""
        extra = ["--sequential"] if sequential else []
        return self.call("reload", name, *(self._waiting(wait) + extra)).get("info") or {}

    def incr(self, name, count):
        """Add count processes; circusd starts them warmup_delay apart and answers after."""
        self.call("incr", name, str(count), "--waiting")

    def decr(self, name, count):
        """Remove count processes, the oldest ones, each stopped within graceful_timeout."""
        self.call("decr", name, str(count), "--waiting")

    def session(self):
        return CircusSession(self.circusctl, self.endpoint, self.timeout)

    def restart(self, name, wait):
        return self.call("restart", name, *self._waiting(wait)).get("info") or {}

    @staticmethod
    def _waiting(wait):
        return ["--waiting"] if wait else []


class CircusSession:
    """One circusctl shell fed a command per line, for sequences whose commands must
    follow each other closely: each reply comes within milliseconds, where starting
    circusctl again costs about 0.3 s. A busy arbiter is not retried here: the caller
    decides what to look at again first. Use it as a context manager."""

    PROMPT = b"(circusctl) "

    def __init__(self, circusctl, endpoint, timeout):
        self.endpoint = endpoint
        self.timeout = timeout
        self.cmd = [circusctl, "--endpoint", endpoint, "--timeout", str(timeout), "--json"]
        self.process = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ, LC_ALL="C", PYTHONUNBUFFERED="1"),
        )
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.selector.register(self.process.stderr, selectors.EVENT_READ)
        self.stdout = b""
        self.stderr = b""
        # The shell greets with its version and the status of every watcher. A circusd it
        # cannot reach leaves no shell behind.
        try:
            self._reply(["status"])
        except CircusError:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self.selector.close()
        try:
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()

    def call(self, *args):
        reply = self.ask(*args)
        if reply.get("status") == "error":
            raise refusal(self.endpoint, args, reply, cmd=self.cmd + list(args))
        return reply

    def ask(self, *args):
        """circusd's reply to one command, a refusal included."""
        try:
            self.process.stdin.write(" ".join(shlex.quote(arg) for arg in args).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as e:
            raise self._failure(args, f"circusctl's shell is gone ({e})") from e
        return self._reply(args)

    def _reply(self, args):
        """The next JSON line the shell prints, after its prompts."""
        # circusctl gives up on a command after timeout and prints no reply, only
        # "Timed out." to stderr; the deadline is for a shell that prints nothing at all.
        deadline = time.monotonic() + self.timeout + 5
        seen = len(self.stderr)
        while True:
            if b"Timed out." in self.stderr[seen:]:
                raise timed_out(
                    self.endpoint,
                    self.timeout,
                    cmd=self.cmd + list(args),
                    stderr=self.stderr.decode(errors="replace"),
                )
            line, newline, rest = self.stdout.partition(b"\n")
            if newline:
                self.stdout = rest
                while line.startswith(self.PROMPT):
                    line = line[len(self.PROMPT) :]
                if line.startswith(b"{"):
                    try:
                        return json.loads(line)
                    except ValueError:
                        raise self._failure(
                            args, "circusctl printed something that is not JSON"
                        ) from None
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._failure(args, f"circusctl did not answer within {self.timeout + 5}s")
            for key, _mask in self.selector.select(left):
                chunk = os.read(key.fileobj.fileno(), 65536)
                if not chunk:
                    raise self._failure(args, "circusctl's shell exited")
                if key.fileobj is self.process.stdout:
                    self.stdout += chunk
                else:
                    self.stderr += chunk

    def _failure(self, args, message):
        return CircusError(
            f"{message} running '{' '.join(args)}' against circusd at {self.endpoint}",
            cmd=self.cmd + list(args),
            stdout=self.stdout.decode(errors="replace"),
            stderr=self.stderr.decode(errors="replace"),
        )

    def pids(self, name):
        return sorted(self.call("list", name)["pids"])

    def option(self, name, key):
        return self.call("get", name, key)["options"][key]

    def kill(self, name, pid):
        """Stop one process as circusd stops any (stop_signal, then SIGKILL after
        graceful_timeout); answered at once. Circus respawns it unless numprocesses drops."""
        self.call("kill", name, str(pid))

    def decr(self, name, count):
        return self.call("decr", name, str(count), "--waiting")["numprocesses"]
