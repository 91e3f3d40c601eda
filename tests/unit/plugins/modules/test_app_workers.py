"""app_workers: how the workers get to a release, and current put back when they cannot."""

import pytest

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import CircusError
from ansible_collections.webstack.circus.plugins.module_utils.releases import (
    current_release,
    read_state,
    switch_current,
    write_state,
)
from ansible_collections.webstack.circus.plugins.modules import app_workers
from ansible_collections.webstack.circus.plugins.modules.app_workers import (
    Releases,
    plan_move,
    run_steps,
)

OLD, NEW = "0" * 16, "1" * 16
OLD_LOADED, NEW_LOADED = f"{OLD}+aaaaaaaaaaaa", f"{NEW}+bbbbbbbbbbbb"
ACTIVE_2 = dict(status="active", numprocesses=2, pids=[11, 12])
STOPPED_2 = dict(status="stopped", numprocesses=2, pids=[])


@pytest.mark.parametrize(
    ("watcher", "recorded", "current", "numprocesses", "expected"),
    [
        # The record holds: only the number of processes.
        (ACTIVE_2, NEW_LOADED, NEW, None, []),
        (ACTIVE_2, NEW_LOADED, NEW, 3, [("numprocesses", 3)]),
        (STOPPED_2, NEW_LOADED, NEW, None, [("start", None)]),
        # A new release: the old processes scaled on their release, then a surge.
        (ACTIVE_2, OLD_LOADED, OLD, None, [("switch", NEW), ("surge", 2)]),
        (ACTIVE_2, OLD_LOADED, OLD, 3, [("numprocesses", 3), ("switch", NEW), ("surge", 3)]),
        # A changed environment, same release: a surge as well.
        (ACTIVE_2, f"{NEW}+cccccccccccc", NEW, None, [("switch", NEW), ("surge", 2)]),
        # A run that stopped half-way: the record says so, and they move again.
        (
            ACTIVE_2,
            f"unknown: a reload to {NEW_LOADED}",
            NEW,
            None,
            [("switch", NEW), ("surge", 2)],
        ),
        # Nothing runs another release: start on it and wait, no second load.
        (ACTIVE_2, "", NEW, None, [("switch", NEW), ("wait", 2)]),
        (STOPPED_2, OLD_LOADED, OLD, None, [("switch", NEW), ("start", None), ("wait", 2)]),
        (ACTIVE_2, OLD_LOADED, OLD, 0, [("switch", NEW), ("numprocesses", 0), ("wait", 0)]),
    ],
)
def test_plan_move(watcher, recorded, current, numprocesses, expected):
    assert plan_move(watcher, recorded, current, NEW, NEW_LOADED, numprocesses) == expected


def home_on(tmp_path, current, loaded, history):
    home = tmp_path / "home"
    for release in (OLD, NEW):
        (home / "releases" / release).mkdir(parents=True)
    switch_current(str(home), current)
    write_state(str(home), dict(history=history, loaded=loaded))
    return str(home)


PARAMS = dict(
    name="web", loaded=NEW_LOADED, ready_dir=None, ready_timeout=5, wait=True, sequential=False
)


def failing_surge(monkeypatch, **details):
    def apply_changes(client, name, changes, params):
        if changes[0][0] == "surge":
            raise CircusError("the new processes were not ready within 5s", **details)
        return [], []

    monkeypatch.setattr(app_workers, "apply_changes", apply_changes)


def test_a_failed_surge_puts_current_and_the_history_back(tmp_path, monkeypatch):
    home = home_on(tmp_path, OLD, OLD_LOADED, [OLD])
    failing_surge(monkeypatch, old_pids=[11, 12], new_pids=[13, 14], pids=[11, 12])
    with pytest.raises(CircusError):
        run_steps(None, Releases(home), PARAMS, [("switch", NEW), ("surge", 2)])
    assert current_release(home) == OLD
    assert read_state(home) == dict(history=[OLD], loaded=OLD_LOADED)


def test_a_failed_surge_that_left_new_processes_records_nothing_as_loaded(tmp_path, monkeypatch):
    home = home_on(tmp_path, OLD, OLD_LOADED, [OLD])
    failing_surge(monkeypatch, old_pids=[11, 12], new_pids=[13, 14], pids=[11, 13])
    with pytest.raises(CircusError):
        run_steps(None, Releases(home), PARAMS, [("switch", NEW), ("surge", 2)])
    assert current_release(home) == OLD
    assert read_state(home)["loaded"].startswith("unknown:")


def test_the_move_is_recorded_unfinished_while_the_workers_move(tmp_path, monkeypatch):
    home = home_on(tmp_path, OLD, OLD_LOADED, [OLD])
    seen = []

    def apply_changes(client, name, changes, params):
        seen.append((current_release(home), read_state(home)))
        return [11, 12], [13, 14]

    monkeypatch.setattr(app_workers, "apply_changes", apply_changes)
    stopped, started = run_steps(None, Releases(home), PARAMS, [("switch", NEW), ("surge", 2)])
    assert (stopped, started) == ([11, 12], [13, 14])
    assert seen == [
        (
            NEW,
            dict(history=[OLD, NEW], loaded=f"unknown: a reload to {NEW_LOADED} has not finished"),
        )
    ]


def test_a_failure_while_starting_on_the_release_keeps_current_on_it(tmp_path, monkeypatch):
    """The processes that are there run the release: putting current back would split them."""
    home = home_on(tmp_path, OLD, OLD_LOADED, [OLD])

    def wait_until_ready(client, name, count, ready, ready_timeout):
        raise CircusError("the processes were not ready within 5s", pids=[21, 22])

    monkeypatch.setattr(app_workers, "apply_changes", lambda *args: ([], []))
    monkeypatch.setattr(app_workers, "wait_until_ready", wait_until_ready)
    with pytest.raises(CircusError):
        run_steps(None, Releases(home), PARAMS, [("switch", NEW), ("start", None), ("wait", 2)])
    assert current_release(home) == NEW
    assert read_state(home)["loaded"].startswith("unknown:")
