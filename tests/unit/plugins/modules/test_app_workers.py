"""app_workers: how the workers get to a release, and current put back when they cannot."""

import os

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


class Client:
    """circusd as Deploy sees it: watchers by name, and the commands sent to it."""

    endpoint = "ipc:///run/circus/circusd.sock"

    def __init__(self, events, home, **watchers):
        self.events, self.home, self.watchers = events, home, watchers

    def watcher(self, name):
        return dict(self.watchers[name])

    def pids(self, name):
        return self.watchers[name]["pids"]

    def call(self, *args):
        self.events.append((args[0], current_release(self.home)))
        return {"status": "ok"}


class Module:
    def __init__(self, events, check_mode=False, fail=None, **params):
        self.events, self.check_mode, self.fail = events, check_mode, fail
        self.params = dict(
            dict(
                name="web",
                loaded=NEW_LOADED,
                release=NEW,
                numprocesses=None,
                ready_dir=None,
                ready_timeout=5,
                commands=[],
                run_as=[],
                project_dir="",
                static_root=None,
                switch_first=False,
                reload_config=False,
                programs=[],
                new_programs=[],
                health_url=None,
                health_retries=3,
                keep=None,
            ),
            **params,
        )

    def run_command(self, command, cwd):
        # The app's command, after env PATH=the release's virtualenv:...
        path = next(arg for arg in command if arg.startswith("PATH="))
        assert path.startswith(f"PATH={os.path.dirname(os.path.dirname(cwd.split('/app')[0]))}")
        argv = command[command.index(path) + 1 :]
        self.events.append((argv[0], cwd))
        return (1, "", "no such table") if argv[0] == self.fail else (0, "done\n", "")


def deploy_on(
    tmp_path, monkeypatch, current=OLD, loaded=OLD_LOADED, running=(), load_seconds=None, **params
):
    """A Deploy on a home whose workers run current (their load took load_seconds), and
    the list its steps append to."""
    home = home_on(tmp_path, current, loaded, [current] if current else [])
    if load_seconds is not None:
        write_state(home, dict(read_state(home), load_seconds=load_seconds))
    if not current:
        os.unlink(os.path.join(home, "current"))
    (tmp_path / "home/releases" / NEW / "static").mkdir()
    events = []

    def apply_changes(client, name, changes, params):
        events.append((name, changes, current_release(home)))
        return [], []

    monkeypatch.setattr(app_workers, "apply_changes", apply_changes)
    monkeypatch.setattr(
        app_workers, "wait_until_ready", lambda *args: events.append(("wait", args[2]))
    )
    watchers = dict(web=ACTIVE_2, **{f"web-{name}": ACTIVE_2 for name in running})
    module = Module(events, path=home, **params)
    return app_workers.Deploy(module, Client(events, home, **watchers)), events, home


def run(deploy):
    deploy.prepare()
    deploy.move_web()
    deploy.move_programs()
    deploy.finish()


def test_commands_and_static_files_come_before_the_workers_move(tmp_path, monkeypatch):
    static_root = tmp_path / "static"
    deploy, events, home = deploy_on(
        tmp_path, monkeypatch, commands=[["migrate"]], static_root=str(static_root)
    )
    (tmp_path / "home/releases" / NEW / "static/site.css").write_text("body{}")
    run(deploy)
    assert events == [
        ("migrate", os.path.join(home, "releases", NEW, "app")),
        ("web", [("surge", 2)], NEW),
    ]
    assert (static_root / "site.css").read_text() == "body{}"
    assert deploy.moved


def test_commands_run_in_the_project_below_the_source_s_root(tmp_path, monkeypatch):
    deploy, events, home = deploy_on(
        tmp_path, monkeypatch, commands=[["migrate"]], project_dir="backend/site"
    )
    run(deploy)
    assert events[0] == ("migrate", os.path.join(home, "releases", NEW, "app", "backend/site"))


def test_nothing_runs_when_the_workers_run_the_release(tmp_path, monkeypatch):
    deploy, events, _home = deploy_on(
        tmp_path,
        monkeypatch,
        current=NEW,
        loaded=NEW_LOADED,
        commands=[["migrate"]],
        numprocesses=3,
    )
    run(deploy)
    assert events == [("web", [("numprocesses", 3)], NEW)]
    assert not deploy.moved


def test_a_failed_command_moves_nothing(tmp_path, monkeypatch):
    deploy, events, home = deploy_on(
        tmp_path, monkeypatch, commands=[["migrate"]], fail="migrate", reload_config=True
    )
    with pytest.raises(app_workers.DeployError, match="no such table"):
        run(deploy)
    assert [event[0] for event in events] == ["migrate"]
    assert current_release(home) == OLD
    assert read_state(home) == dict(history=[OLD], loaded=OLD_LOADED)


def test_a_first_release_is_current_before_circusd_starts_it_and_loads_once(tmp_path, monkeypatch):
    deploy, events, home = deploy_on(
        tmp_path, monkeypatch, current="", loaded="", switch_first=True, reload_config=True
    )
    run(deploy)
    assert events == [("reloadconfig", NEW), ("wait", 2)]
    assert current_release(home) == NEW


def test_a_changed_watcher_restarts_on_the_release_and_a_failure_keeps_it(tmp_path, monkeypatch):
    """reloadconfig restarted the workers on the release: putting current back would split
    what they run from what a restarted worker would start."""
    deploy, events, home = deploy_on(tmp_path, monkeypatch, switch_first=True, reload_config=True)
    failing_surge(monkeypatch, old_pids=[11, 12], new_pids=[13, 14], pids=[11, 12])
    with pytest.raises(CircusError):
        run(deploy)
    assert events == [("reloadconfig", NEW)]
    assert current_release(home) == NEW
    assert read_state(home)["loaded"] == f"unknown: a reload to {NEW_LOADED} has not finished"
    assert not deploy.releases.restored


def test_programs_move_after_the_web_workers_unless_just_started_there(tmp_path, monkeypatch):
    programs = [
        dict(name="worker", numprocesses=2, reload="restart"),
        dict(name="beat", numprocesses=1, reload="surge"),
        dict(name="new", numprocesses=2, reload="restart"),
    ]
    deploy, events, _home = deploy_on(
        tmp_path,
        monkeypatch,
        running=["worker", "beat", "new"],
        switch_first=True,
        reload_config=True,
        programs=programs,
        new_programs=["new"],
    )
    run(deploy)
    assert events[2:] == [
        ("web-worker", [("restart", None)], NEW),
        ("web-beat", [("numprocesses", 1), ("surge", 1)], NEW),
    ]
    assert "restart web-new" not in deploy.actions


def test_programs_only_scale_when_nothing_moves(tmp_path, monkeypatch):
    programs = [dict(name="worker", numprocesses=3, reload="restart")]
    deploy, events, _home = deploy_on(
        tmp_path, monkeypatch, current=NEW, loaded=NEW_LOADED, running=["worker"], programs=programs
    )
    run(deploy)
    assert events == [("web-worker", [("numprocesses", 3)], NEW)]


def test_what_the_workers_run_is_recorded_only_once_the_app_answers(tmp_path, monkeypatch):
    deploy, _events, home = deploy_on(tmp_path, monkeypatch, health_url="http://x/", keep=2)
    monkeypatch.setattr(app_workers, "answers", lambda url, retries: (False, "503"))
    with pytest.raises(
        app_workers.DeployError, match=r"http://x/ did not answer 200 in 3 tries \(last: 503\)"
    ):
        run(deploy)
    assert read_state(home)["loaded"].startswith("unknown:")

    deploy, _events, home = deploy_on(tmp_path / "2", monkeypatch, health_url="http://x/", keep=2)
    monkeypatch.setattr(app_workers, "answers", lambda url, retries: (True, "200"))
    run(deploy)
    state = read_state(home)
    assert state.pop("load_seconds") >= 0
    assert state == dict(history=[OLD, NEW], loaded=NEW_LOADED)


def test_new_workers_get_three_times_as_long_as_the_last_load_took(tmp_path, monkeypatch):
    # The last move took 50 s (a large app on a loaded host): 150 s now, not 5.
    deploy, _events, home = deploy_on(tmp_path, monkeypatch, load_seconds=50.0, keep=2)
    assert deploy.params["ready_timeout"] == 150 == deploy.result["ready_timeout"]
    # This one takes 12 s, recorded for the next (whose floor stays ready_timeout).
    clock = iter([1000.0, 1012.0])
    monkeypatch.setattr(app_workers.time, "monotonic", lambda: next(clock))
    run(deploy)
    assert read_state(home)["load_seconds"] == 12.0
    deploy, _events, _home = deploy_on(tmp_path / "2", monkeypatch, ready_timeout=60)
    assert deploy.params["ready_timeout"] == 60


def test_check_mode_changes_nothing_and_says_what_it_would_do(tmp_path, monkeypatch):
    deploy, events, home = deploy_on(
        tmp_path, monkeypatch, commands=[["migrate"]], reload_config=True, keep=2, check_mode=True
    )
    run(deploy)
    assert events == []
    assert deploy.actions == [
        "migrate",
        "reloadconfig",
        f"current -> {NEW}",
        "incr web 2",
        "decr web 2",
        f"record {NEW_LOADED} loaded",
    ]
    assert current_release(home) == OLD
    assert read_state(home) == dict(history=[OLD], loaded=OLD_LOADED)


def test_published_static_files_replace_what_is_there(tmp_path):
    release, root = tmp_path / "release", tmp_path / "root"
    (release / "css").mkdir(parents=True)
    (release / "css/site.css").write_text("new")
    (root / "css").mkdir(parents=True)
    (root / "css/old.css").write_text("kept")
    elsewhere = tmp_path / "elsewhere.css"
    elsewhere.write_text("not to be written into")
    (root / "css/site.css").symlink_to(elsewhere)
    app_workers.publish_static(str(release), str(root))
    assert (root / "css/site.css").read_text() == "new"
    assert not (root / "css/site.css").is_symlink()
    assert elsewhere.read_text() == "not to be written into"
    assert (root / "css/old.css").read_text() == "kept"
