import pytest

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import CircusClient
from ansible_collections.webstack.circus.plugins.modules.circus_watcher import (
    apply_changes,
    describe,
    plan_changes,
    predict,
)
from circus_fakes import CIRCUSCTL, ENDPOINT, FakeModule

ACTIVE_2 = dict(status="active", numprocesses=2)
STOPPED_2 = dict(status="stopped", numprocesses=2)


@pytest.mark.parametrize(
    ("current", "state", "numprocesses", "expected"),
    [
        (ACTIVE_2, "started", None, []),
        (ACTIVE_2, "started", 2, []),
        (dict(status="starting", numprocesses=2), "started", None, []),
        (STOPPED_2, "started", None, [("start", None)]),
        (dict(status="stopping", numprocesses=2), "started", None, [("start", None)]),
        (ACTIVE_2, "started", 4, [("numprocesses", 4)]),
        (ACTIVE_2, "started", 0, [("numprocesses", 0)]),
        (STOPPED_2, "started", 3, [("numprocesses", 3), ("start", None)]),
        (STOPPED_2, "stopped", None, []),
        (STOPPED_2, "stopped", 2, []),
        (STOPPED_2, "stopped", 5, [("numprocesses", 5)]),
        (ACTIVE_2, "stopped", None, [("stop", None)]),
        (dict(status="stopping", numprocesses=2), "stopped", None, [("stop", None)]),
        (ACTIVE_2, "stopped", 1, [("stop", None), ("numprocesses", 1)]),
        (ACTIVE_2, "reloaded", None, [("reload", None)]),
        (STOPPED_2, "reloaded", None, [("reload", None)]),
        (ACTIVE_2, "reloaded", 3, [("numprocesses", 3), ("reload", None)]),
        (ACTIVE_2, "restarted", None, [("restart", None)]),
        (ACTIVE_2, "restarted", 2, [("restart", None)]),
    ],
)
def test_plan_changes(current, state, numprocesses, expected):
    assert plan_changes(current, state, numprocesses) == expected


@pytest.mark.parametrize(
    ("current", "changes", "expected"),
    [
        (ACTIVE_2, [], ACTIVE_2),
        (STOPPED_2, [("numprocesses", 3), ("start", None)], dict(status="active", numprocesses=3)),
        (ACTIVE_2, [("stop", None), ("numprocesses", 1)], dict(status="stopped", numprocesses=1)),
        (STOPPED_2, [("reload", None)], ACTIVE_2),
        (STOPPED_2, [("restart", None)], ACTIVE_2),
    ],
)
def test_predict(current, changes, expected):
    assert predict(current, changes) == expected


def test_describe_gives_the_circusctl_commands():
    assert describe("web", [("numprocesses", 4), ("reload", None)]) == [
        "set web numprocesses 4",
        "reload web",
    ]


def test_apply_changes_runs_them_in_order_and_returns_replaced_pids(replies):
    module = FakeModule(
        {
            "set sleeper numprocesses 3 --waiting": replies["set sleeper numprocesses 3 --waiting"],
            "reload sleeper --waiting": replies["reload sleeper --waiting"],
        }
    )
    client = CircusClient(module, CIRCUSCTL, ENDPOINT, 30)
    stopped, started = apply_changes(
        client, "sleeper", [("numprocesses", 3), ("reload", None)], sequential=False, wait=True
    )
    assert module.calls == ["set sleeper numprocesses 3 --waiting", "reload sleeper --waiting"]
    assert (stopped, started) == ([2340], [2348])


def test_apply_changes_start_and_stop_return_no_replaced_pids(replies):
    module = FakeModule(
        {
            "stop sleeper --waiting": replies["stop sleeper --waiting"],
            "start sleeper --waiting": replies["start sleeper --waiting"],
        }
    )
    client = CircusClient(module, CIRCUSCTL, ENDPOINT, 30)
    result = apply_changes(
        client, "sleeper", [("stop", None), ("start", None)], sequential=False, wait=True
    )
    assert result == ([], [])
    assert module.calls == ["stop sleeper --waiting", "start sleeper --waiting"]
