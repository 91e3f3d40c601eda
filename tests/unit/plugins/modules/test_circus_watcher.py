import pytest

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    ArbiterBusy,
    CircusClient,
    CircusError,
)
from ansible_collections.webstack.circus.plugins.module_utils.watcher import (
    ReadyDir,
    abort_surge,
    apply_changes,
    await_ready,
    describe,
    plan_changes,
    predict,
    surge_reload,
)
from circus_fakes import CIRCUSCTL, ENDPOINT, FakeModule

ACTIVE_2 = dict(status="active", numprocesses=2)
STOPPED_2 = dict(status="stopped", numprocesses=2)
PARAMS = dict(wait=True, sequential=False, ready_dir=None, ready_timeout=60)


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
    ("current", "numprocesses", "expected"),
    [
        (ACTIVE_2, None, [("surge", 2)]),
        (dict(status="starting", numprocesses=2), None, [("surge", 2)]),
        (ACTIVE_2, 3, [("numprocesses", 3), ("surge", 3)]),
        (STOPPED_2, None, [("start", None)]),
        (STOPPED_2, 3, [("numprocesses", 3), ("start", None)]),
        # Nothing to surge with no process: Circus's reload, a no-op.
        (dict(status="active", numprocesses=0), None, [("reload", None)]),
        (ACTIVE_2, 0, [("numprocesses", 0), ("reload", None)]),
    ],
)
def test_plan_changes_for_a_surge_reload(current, numprocesses, expected):
    assert plan_changes(current, "reloaded", numprocesses, surge=True) == expected


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
    assert describe("web", [("surge", 4)]) == ["incr web 4", "decr web 4"]


def test_apply_changes_runs_them_in_order_and_returns_replaced_pids(replies):
    module = FakeModule(
        {
            "set sleeper numprocesses 3 --waiting": replies["set sleeper numprocesses 3 --waiting"],
            "reload sleeper --waiting": replies["reload sleeper --waiting"],
        }
    )
    client = CircusClient(module, CIRCUSCTL, ENDPOINT, 30)
    stopped, started = apply_changes(
        client, "sleeper", [("numprocesses", 3), ("reload", None)], PARAMS
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
    result = apply_changes(client, "sleeper", [("stop", None), ("start", None)], PARAMS)
    assert result == ([], [])
    assert module.calls == ["stop sleeper --waiting", "start sleeper --waiting"]


class Clock:
    """A clock that advances only when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = 0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.sleeps += 1


def surge_module(replies, lists):
    """circusd answering a surge: pids listed as given, then the recorded incr and decr."""
    return FakeModule(
        {
            "list sleeper": lists,
            "incr sleeper 2 --waiting": replies["incr sleeper 2 --waiting"],
            "decr sleeper 2 --waiting": replies["decr sleeper 2 --waiting"],
        }
    )


def test_surge_stops_the_old_processes_once_the_new_ones_are_ready(replies):
    before = replies["list sleeper (before a surge)"]
    surged = replies["list sleeper (surged)"]
    module = surge_module(
        replies, [before, surged, surged, replies["list sleeper (after a surge)"]]
    )
    clock = Clock()
    stopped, started = surge_reload(
        CircusClient(module, CIRCUSCTL, ENDPOINT, 30),
        "sleeper",
        2,
        # The new processes are ready after the third look at their ready files.
        ready=lambda pid: pid in (17457, 17458) and clock.sleeps >= 3,
        ready_timeout=10,
        clock=clock,
        sleep=clock.sleep,
    )
    assert module.calls.index("decr sleeper 2 --waiting") > module.calls.index(
        "incr sleeper 2 --waiting"
    )
    # The ready files were polled until both new processes were ready, and not after;
    # circusd was asked for the processes before, once they ran, once more when they
    # were ready, and after.
    assert clock.sleeps == 3
    assert module.calls.count("list sleeper") == 4
    assert (stopped, started) == ([17447, 17448], [17457, 17458])


def test_surge_waits_for_as_many_new_processes_as_it_started(replies):
    """A new process that died and is not respawned yet is not counted as ready."""
    before = replies["list sleeper (before a surge)"]
    one_new = dict(replies["list sleeper (surged)"], pids=[17447, 17448, 17457])
    surged, after = replies["list sleeper (surged)"], replies["list sleeper (after a surge)"]
    module = surge_module(replies, [before, one_new, surged, after])
    clock = Clock()
    surge_reload(
        CircusClient(module, CIRCUSCTL, ENDPOINT, 30),
        "sleeper",
        2,
        ready=lambda pid: True,
        ready_timeout=10,
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.sleeps == 1


def test_a_ready_process_that_died_before_the_last_listing_is_not_returned(replies):
    """Between two listings the ready files are polled: when all look ready, one more
    listing makes sure they still run. 17458 wrote its ready file and died; circusd's
    respawn, 17459, is waited for instead."""
    surged = replies["list sleeper (surged)"]
    module = FakeModule(
        {
            "list sleeper": [
                surged,
                dict(surged, pids=[17447, 17448, 17457]),
                dict(surged, pids=[17447, 17448, 17457, 17459]),
            ]
        }
    )
    clock = Clock()
    pids = await_ready(
        CircusClient(module, CIRCUSCTL, ENDPOINT, 30),
        "sleeper",
        2,
        lambda pid: clock.sleeps >= 1,
        10,
        old={17447, 17448},
        clock=clock,
        sleep=clock.sleep,
    )
    assert pids == [17457, 17459]
    assert module.calls.count("list sleeper") == 3


class FakeSession:
    """A circusctl session on a watcher whose live pids are scripted: each listing pops
    the next set, the last one stays. Records kills and decrs; decr answers busy while
    busy_decrs is positive."""

    timeout = 30

    def __init__(self, listings, busy_decrs=0):
        self.listings = listings
        self.busy_decrs = busy_decrs
        self.calls = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.calls.append("closed")

    def option(self, name, key):
        assert (name, key) == ("sleeper", "graceful_timeout")
        return 5.0

    def pids(self, name):
        self.calls.append("list")
        return self.listings.pop(0) if len(self.listings) > 1 else self.listings[0]

    def kill(self, name, pid):
        self.calls.append(f"kill {pid}")

    def decr(self, name, count):
        self.calls.append(f"decr {count}")
        if self.busy_decrs:
            self.busy_decrs -= 1
            raise ArbiterBusy("arbiter is already running manage_watchers command")
        return 2


OLD = {17447, 17448}


def test_abort_surge_decrs_only_once_no_process_but_the_old_ones_is_alive():
    session = FakeSession(
        [
            [17447, 17448, 17457, 17458],
            # 17457 is still stopping; circusd's check respawned 17458 as 17460.
            [17447, 17448, 17457, 17460],
            [17447, 17448],
        ]
    )
    clock = Clock()
    stopped = abort_surge(session, "sleeper", OLD, 2, clock=clock, sleep=clock.sleep)
    assert stopped == ([17457, 17458, 17460], 2)
    assert session.calls == [
        "list",
        "kill 17457",
        "kill 17458",
        "list",
        "kill 17460",
        "list",
        "decr 2",
    ]


def test_abort_surge_looks_again_when_decr_finds_circusd_busy():
    """A busy arbiter may be circusd's check, which may have respawned a process: decr is
    not retried blindly."""
    session = FakeSession([[17447, 17448], [17447, 17448, 17461], [17447, 17448]], busy_decrs=1)
    clock = Clock()
    assert abort_surge(session, "sleeper", OLD, 2, clock=clock, sleep=clock.sleep) == ([17461], 2)
    assert session.calls == ["list", "decr 2", "list", "kill 17461", "list", "decr 2"]


def test_abort_surge_does_not_decr_while_new_processes_outlive_their_stop():
    session = FakeSession([[17447, 17448, 17457]])
    clock = Clock()
    with pytest.raises(CircusError, match=r"decr sleeper 2 could not run within 35s") as failure:
        abort_surge(session, "sleeper", OLD, 2, clock=clock, sleep=clock.sleep)
    assert "decr 2" not in session.calls
    assert session.calls.count("kill 17457") == 1
    assert failure.value.details["pids"] == [17447, 17448, 17457]


def failing_surge(replies, session, ready=lambda pid: pid != 17458):
    surged = replies["list sleeper (surged)"]
    module = surge_module(replies, [replies["list sleeper (before a surge)"]] + [surged] * 100)
    client = CircusClient(module, CIRCUSCTL, ENDPOINT, 30)
    client.session = lambda: session
    clock = Clock()
    with pytest.raises(CircusError) as failure:
        surge_reload(client, "sleeper", 2, ready, ready_timeout=5, clock=clock, sleep=clock.sleep)
    assert clock.now >= 5
    assert "decr sleeper 2 --waiting" not in module.calls
    return failure.value


def test_failed_surge_stops_the_new_processes_and_keeps_the_old_ones(replies):
    session = FakeSession([[17447, 17448, 17457, 17458], [17447, 17448]])
    failure = failing_surge(replies, session)
    assert session.calls[-1] == "closed"
    assert "not ready: [17458]" in failure.message
    assert (
        "they were stopped ([17457, 17458]) and the old processes [17447, 17448] keep "
        "serving, numprocesses back to 2"
    ) in failure.message
    assert failure.details == dict(
        old_pids=[17447, 17448],
        new_pids=[17457, 17458],
        stopped_pids=[17457, 17458],
        pids=[17447, 17448],
        numprocesses=2,
    )


def test_failed_surge_says_which_old_processes_were_lost(replies):
    """If circusd's check respawned a process in the round trip before decr, decr stopped
    an old one: the message says what runs."""
    session = FakeSession([[17447, 17448, 17457, 17458], [17447, 17448], [17448, 17462]])
    failure = failing_surge(replies, session)
    assert "but the old processes [17447] are gone too" in failure.message
    assert "the watcher runs [17448, 17462], numprocesses 2" in failure.message
    assert "keep serving" not in failure.message


def test_failed_surge_whose_abort_fails_says_the_old_ones_may_run_beside(replies):
    session = FakeSession([[17447, 17448, 17457]])
    failure = failing_surge(replies, session)
    assert "stopping them failed, the old processes [17447, 17448] may run beside" in (
        failure.message
    )
    assert failure.details["pids"] == [17447, 17448, 17457]
    assert failure.details["new_pids"] == [17457, 17458]


def test_ready_dir_reads_and_forgets_the_files_named_after_pids(tmp_path):
    for name in ("17447", "17457", "notes.txt"):
        (tmp_path / name).touch()
    ready = ReadyDir(str(tmp_path))
    assert ready(17447) and ready(17457) and not ready(17458)
    ready.forget_all_but([17457, 17458])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["17457", "notes.txt"]


def test_ready_dir_counts_only_regular_files(tmp_path):
    """The app's user can write there: a symlink or a directory named after a pid is not
    a process announcing that it is ready."""
    (tmp_path / "target").touch()
    (tmp_path / "17457").symlink_to(tmp_path / "target")
    (tmp_path / "17458").mkdir()
    (tmp_path / "17459").touch()
    ready = ReadyDir(str(tmp_path))
    assert not ready(17457) and not ready(17458) and ready(17459)


def test_ready_dir_forgets_symlinks_without_following_them_and_keeps_directories(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data").touch()
    ready_dir = tmp_path / "ready"
    ready_dir.mkdir()
    (ready_dir / "424242").mkdir()
    (ready_dir / "424242" / "17447").touch()
    (ready_dir / "434343").symlink_to(outside)
    (ready_dir / "454545").symlink_to(outside / "data")
    (ready_dir / "464646").symlink_to(tmp_path / "nowhere")
    ReadyDir(str(ready_dir)).forget_all_but([17447])
    assert sorted(path.name for path in ready_dir.iterdir()) == ["424242"]
    assert (ready_dir / "424242" / "17447").exists()
    assert (outside / "data").exists()


def test_ready_dir_that_cannot_be_read_fails_with_its_path(tmp_path):
    with pytest.raises(CircusError, match=r"cannot clean ready_dir .*gone"):
        ReadyDir(str(tmp_path / "gone")).forget_all_but([1])
