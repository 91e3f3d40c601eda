"""Which deaths the circus role's flapping plugin (roles/circus/files/webstack_circus_plugins.py)
counts, from the events circusd publishes, without a daemon: those of processes it saw
spawn and not killed. tests/integration/test_circus_plugins.py runs it in circusd."""

import importlib.util
import json
import pathlib

import pytest

PROGRAM = (
    pathlib.Path(__file__).resolve().parents[3]
    / "roles"
    / "circus"
    / "files"
    / "webstack_circus_plugins.py"
)
_spec = importlib.util.spec_from_file_location("webstack_circus_plugins", PROGRAM)
plugins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plugins)


class CountingFlapping(plugins.Flapping):
    """The plugin with no circusd: no process serves, and each death it counts is kept."""

    def serves(self, watcher_name):
        return False

    def check(self, watcher_name):
        pass


def event(action, pid, watcher="web"):
    """What the plugin receives for an event: the topic and the message circusd publishes."""
    return [f"watcher.{watcher}.{action}".encode(), json.dumps({"process_pid": pid}).encode()]


@pytest.mark.parametrize(
    ("events", "counted"),
    [
        # A crash: spawned, then reaped.
        ([("spawn", 101), ("reap", 101)], 1),
        # A stop, a restart or a decr: circusd kills it, then reaps it.
        ([("spawn", 101), ("kill", 101), ("reap", 101)], 0),
        # The plugin began to listen after the spawn (or after the kill too): the death
        # is not known to be a crash. It was taken for one when the stop came first.
        ([("kill", 101), ("reap", 101)], 0),
        ([("reap", 101)], 0),
        # Two processes crash, a third is stopped; the respawned crash again.
        (
            [
                ("spawn", 1),
                ("spawn", 2),
                ("spawn", 3),
                ("reap", 1),
                ("kill", 3),
                ("reap", 3),
                ("reap", 2),
                ("spawn", 4),
                ("reap", 4),
            ],
            3,
        ),
    ],
)
def test_only_the_deaths_of_processes_seen_spawning_and_not_killed_count(events, counted):
    flapping = CountingFlapping("ipc:///nowhere", "ipc:///nowhere-pubsub", 1, None)
    for action, pid in events:
        flapping.handle_recv(event(action, pid))
    assert len(flapping.timelines.get("web", [])) == counted


def test_each_watcher_keeps_its_own_processes():
    flapping = CountingFlapping("ipc:///nowhere", "ipc:///nowhere-pubsub", 1, None)
    flapping.handle_recv(event("spawn", 7, watcher="web"))
    flapping.handle_recv(event("reap", 7, watcher="worker"))
    assert flapping.timelines == {}
    flapping.handle_recv(event("reap", 7, watcher="web"))
    assert list(flapping.timelines) == ["web"]
