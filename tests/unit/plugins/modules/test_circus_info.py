from ansible_collections.webstack.circus.plugins.module_utils.circusctl import CircusClient
from ansible_collections.webstack.circus.plugins.modules.circus_info import (
    process_stats,
    read_watcher,
)
from circus_fakes import CIRCUSCTL, ENDPOINT, FakeModule


def test_process_stats_sorts_by_numeric_pid():
    info = {"10001": {"pid": 10001}, "999": {"pid": 999}, "2251": {"pid": 2251}}
    assert [each["pid"] for each in process_stats(info)] == [999, 2251, 10001]


def test_read_watcher_with_stats(replies):
    module = FakeModule(
        {
            "status sleeper": replies["status sleeper"],
            "get sleeper numprocesses": replies["get sleeper numprocesses"],
            "list sleeper": replies["list sleeper"],
            "stats sleeper": replies["stats sleeper"],
        }
    )
    watcher = read_watcher(CircusClient(module, CIRCUSCTL, ENDPOINT, 30), "sleeper", True)
    assert watcher["status"] == "active"
    assert watcher["numprocesses"] == 2
    assert watcher["pids"] == [2251, 2252]
    assert [each["pid"] for each in watcher["stats"]] == [2251, 2252]
    assert watcher["stats"][0]["cmdline"] == "sleep"


def test_read_watcher_without_stats_skips_the_stats_call(replies):
    module = FakeModule(
        {
            "status sleeper": replies["status sleeper (stopped)"],
            "get sleeper numprocesses": replies["get sleeper numprocesses"],
            "list sleeper": dict(replies["list sleeper"], pids=[]),
        }
    )
    watcher = read_watcher(CircusClient(module, CIRCUSCTL, ENDPOINT, 30), "sleeper", False)
    assert watcher == dict(status="stopped", numprocesses=2, pids=[], stats=[])
    assert "stats sleeper" not in module.calls
