# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A watcher's runtime changes, shared by circus_watcher and app_workers: what to run to
reach the wanted state (pure functions), and running it, surge reloads included (new
processes beside the old ones, the old ones stopped once every new one is ready, the new
ones stopped instead when they are not ready in time)."""

from __future__ import annotations

import contextlib
import os
import stat
import time

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    RUNNING_STATES,
    ArbiterBusy,
    CircusError,
)

ALWAYS_ACTING_STATES = {"restarted": "restart", "reloaded": "reload"}
# How often a wait looks at the ready files (a stat each), and lists the watcher's
# processes again (a circusctl process each, about 0.15 s).
READY_POLL_SECONDS = 0.05
LIST_POLL_SECONDS = 0.25
RELIST_SECONDS = 1.0
ABORT_POLL_SECONDS = 0.1


def plan_changes(current, state, numprocesses, surge=False):
    """List the (command, value) pairs that bring the watcher from current to what is wanted.

    current holds the watcher's "status" and configured "numprocesses". A surge reload is
    ("surge", N): N new processes beside the N old ones, then the old ones stopped.
    """
    scale = []
    if numprocesses is not None and numprocesses != current["numprocesses"]:
        scale = [("numprocesses", numprocesses)]
    target = current["numprocesses"] if numprocesses is None else numprocesses
    if state == "stopped":
        stop = [("stop", None)] if current["status"] != "stopped" else []
        return stop + scale
    if surge and current["status"] not in RUNNING_STATES:
        return [*scale, ("start", None)]
    if surge and target > 0:
        return [*scale, ("surge", target)]
    if state in ALWAYS_ACTING_STATES:
        return [*scale, (ALWAYS_ACTING_STATES[state], None)]
    start = [("start", None)] if current["status"] not in RUNNING_STATES else []
    return scale + start


def predict(current, changes):
    """The status and configured numprocesses that the changes lead to."""
    after = dict(status=current["status"], numprocesses=current["numprocesses"])
    for command, value in changes:
        if command == "numprocesses":
            after["numprocesses"] = value
        else:
            after["status"] = "stopped" if command == "stop" else "active"
    return after


def describe(name, changes):
    described = []
    for command, value in changes:
        if command == "numprocesses":
            described.append(f"set {name} numprocesses {value}")
        elif command == "surge":
            described += [f"incr {name} {value}", f"decr {name} {value}"]
        else:
            described.append(f"{command} {name}")
    return described


class ReadyDir:
    """The directory where each process of a watcher writes a file named after its pid
    once it can serve. The app's user can write there too, so only a regular file counts
    and nothing found there is followed."""

    def __init__(self, path):
        self.path = path

    def __call__(self, pid):
        try:
            return stat.S_ISREG(os.lstat(os.path.join(self.path, str(pid))).st_mode)
        except OSError:
            return False

    def forget_all_but(self, pids):
        """Unlink the files and symlinks of processes that are gone, so a reused pid is not
        taken for ready. Directories are left alone: they never count as ready, and
        removing what is inside them would act on the app user's files."""
        keep = {str(pid) for pid in pids}
        try:
            with os.scandir(self.path) as entries:
                stale = [
                    entry.path
                    for entry in entries
                    if entry.name.isascii()
                    and entry.name.isdigit()
                    and entry.name not in keep
                    and not entry.is_dir(follow_symlinks=False)
                ]
            for path in stale:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        except OSError as e:
            raise CircusError(f"cannot clean ready_dir {self.path}: {e}") from e


def always_ready(pid):
    """Without a ready_dir a new process is ready when incr returns: after warmup_delay."""
    del pid
    return True


def abort_surge(session, name, old, count, clock=time.monotonic, sleep=time.sleep):
    """Stop every process but the old ones and take back the count processes the surge
    added. Return (the pids stopped, the configured numprocesses).

    Circus cannot stop chosen processes for good: decr stops the oldest ones, and a
    process stopped by pid is respawned by circusd's periodic check while numprocesses
    still counts it. So each process that is not an old one is stopped, again for each
    respawn, and decr is sent in the same circusctl session right after a listing that
    shows only old processes: decr forgets the dead ones and, with no extra live process,
    stops none. The check can still run in the one round trip between the two; the
    caller reads what runs afterwards.
    """
    patience = float(session.option(name, "graceful_timeout")) + session.timeout
    deadline = clock() + patience
    stopping = set()
    while True:
        extra = set(session.pids(name)) - old
        if not extra:
            try:
                return sorted(stopping), session.decr(name, count)
            except ArbiterBusy:
                # circusd's check (or another client) ran: it may have respawned some.
                pass
        if clock() >= deadline:
            raise CircusError(
                f"decr {name} {count} could not run within {patience:g}s (running beside the "
                f"old processes: {sorted(extra) or 'none, but circusd stayed busy'}); "
                f"numprocesses stays raised by {count}",
                pids=sorted(old | extra),
            )
        for pid in sorted(extra - stopping):
            session.kill(name, pid)
        stopping |= extra
        sleep(ABORT_POLL_SECONDS)


def surge_reload(
    client, name, count, ready, ready_timeout, clock=time.monotonic, sleep=time.sleep, old=None
):
    """Start count new processes beside the old ones, wait until each new one is ready,
    then stop the old ones (circusd stops the oldest). Return (stopped, started) pids.
    New processes not ready in time are stopped instead, and the old ones kept. old: the
    pids the caller just listed, if it did."""
    old = set(client.pids(name) if old is None else old)
    client.incr(name, count)
    try:
        new = set(await_ready(client, name, count, ready, ready_timeout, old, clock, sleep))
    except NotReady as late:
        raise undo_surge(
            client,
            name,
            old,
            count,
            late.message("the new processes", ready_timeout),
            dict(old_pids=sorted(old), new_pids=late.pids),
            clock,
            sleep,
        ) from None
    client.decr(name, count)
    after = set(client.pids(name))
    return sorted(old - after), sorted(new & after)


def undo_surge(client, name, old, count, failure, details, clock, sleep):
    """The error for a surge that failed, once the processes it added are stopped."""
    try:
        with client.session() as session:
            stopped, numprocesses = abort_surge(session, name, old, count, clock, sleep)
            after = session.pids(name)
    except CircusError as e:
        return CircusError(
            f"{failure}; stopping them failed, the old processes {sorted(old)} may run beside "
            f"them: {e.message}",
            **dict(e.details, **details),
        )
    details = dict(details, stopped_pids=stopped, pids=after, numprocesses=numprocesses)
    lost = sorted(old - set(after))
    if lost:
        return CircusError(
            f"{failure}; they were stopped ({stopped}), but the old processes {lost} are gone "
            "too (circusd's periodic check can respawn a stopped process just before "
            f"numprocesses drops, and decr stops the oldest): the watcher runs {after}, "
            f"numprocesses {numprocesses}",
            **details,
        )
    return CircusError(
        f"{failure}; they were stopped ({stopped}) and the old processes {sorted(old)} keep "
        f"serving, numprocesses back to {numprocesses}",
        **details,
    )


def apply_changes(client, name, changes, params):
    """Run the changes; return the pids that a restart or reload stopped and started."""
    wait = params["wait"]
    replaced = {}
    for command, value in changes:
        if command == "numprocesses":
            client.set_numprocesses(name, value, wait)
        elif command == "start":
            client.start(name, wait)
        elif command == "stop":
            client.stop(name, wait)
        elif command == "reload":
            replaced = client.reload(name, params["sequential"], wait)
        elif command == "restart":
            replaced = client.restart(name, wait)
        elif command == "surge":
            ready, old = always_ready, None
            if params["ready_dir"]:
                ready, old = ReadyDir(params["ready_dir"]), client.pids(name)
                ready.forget_all_but(old)
            stopped, started = surge_reload(
                client, name, value, ready, params["ready_timeout"], old=old
            )
            replaced = dict(stopped=stopped, started=started)
    return sorted(replaced.get("stopped", [])), sorted(replaced.get("started", []))


class NotReady(Exception):
    """The processes a wait was for did not all get ready in time."""

    def __init__(self, pids, unready):
        super().__init__(pids, unready)
        self.pids, self.unready = pids, unready

    def message(self, what, ready_timeout):
        running = f"running: {self.pids}" if self.pids else "none stayed up: see its stderr"
        return (
            f"{what} were not ready within {ready_timeout}s ({running}, not ready: {self.unready})"
        )


def await_ready(
    client,
    name,
    count,
    ready,
    ready_timeout,
    old=frozenset(),
    clock=time.monotonic,
    sleep=time.sleep,
):
    """Wait until the watcher runs count processes besides old, each one ready; return
    their pids, sorted. Raise NotReady when ready_timeout passes first.

    Listing the processes costs a circusctl process; a ready file, a stat. So the
    processes are listed again only while fewer than count run, every RELIST_SECONDS
    while they load, and once more when every listed one is ready, to return only
    processes that still run."""
    deadline = clock() + ready_timeout
    listed_at = None
    while True:
        fresh = listed_at is None or clock() - listed_at >= RELIST_SECONDS
        if fresh:
            pids, listed_at = sorted(set(client.pids(name)) - old), clock()
        unready = [pid for pid in pids if not ready(pid)]
        if len(pids) >= count and not unready:
            if fresh:
                return pids
            listed_at = None
            continue
        if clock() >= deadline:
            raise NotReady(pids, unready)
        if len(pids) < count:
            listed_at = None
            sleep(LIST_POLL_SECONDS)
        else:
            sleep(READY_POLL_SECONDS)


def wait_until_ready(
    client, name, count, ready, ready_timeout, clock=time.monotonic, sleep=time.sleep
):
    """Wait until the watcher runs count processes and each one is ready; return their
    pids. For processes that no surge replaces: nothing is stopped when they are late."""
    if isinstance(ready, ReadyDir):
        ready.forget_all_but(client.pids(name))
    try:
        return await_ready(client, name, count, ready, ready_timeout, clock=clock, sleep=sleep)
    except NotReady as late:
        raise CircusError(late.message("the processes", ready_timeout), pids=late.pids) from None
