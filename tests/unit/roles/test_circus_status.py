"""The status page's service (roles/circus/files/circus_status.py): what it shows and
which requests it refuses, without a daemon."""

import importlib.util
import json
import pathlib

import pytest

PROGRAM = (
    pathlib.Path(__file__).resolve().parents[3] / "roles" / "circus" / "files" / "circus_status.py"
)
_spec = importlib.util.spec_from_file_location("circus_status", PROGRAM)
circus_status = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(circus_status)

SECRET = b"s" * 32
WATCHERS = {"demo": {}, "demo-worker": {}, "circusd-stats": {}}
# `stats demo` as circusd 0.19.0 answers it (two workers), trimmed to what the page reads.
STATS = {
    "5102": {"cpu": 0.5, "mem": 1.25, "mem_info1": "30.96M", "age": 12.5, "cmdline": "python"},
    "5101": {"cpu": 0.0, "mem": 1.5, "mem_info1": "31.02M", "age": 12.7, "cmdline": "python"},
}


def refused(method, path, user="alice", operators=("alice",), token=None, origin="", watchers=None):
    expected = circus_status.csrf_token(SECRET, user)
    return circus_status.refusal(
        method,
        path,
        user,
        operators,
        expected if token is None else token,
        expected,
        origin,
        "status.example:8081",
        WATCHERS if watchers is None else watchers,
    )


def test_watchers_are_grouped_by_app_and_processes_sorted_by_pid():
    data = circus_status.snapshot(
        {
            "demo": {"status": "active", "numprocesses": 2, "stats": STATS},
            "demo-worker": {"status": "stopped", "numprocesses": 0, "stats": {}},
            "circusd-stats": {"status": "active", "numprocesses": 1, "stats": {}},
            "shop": {"status": "active", "numprocesses": 1, "stats": None},
        }
    )
    assert [app["name"] for app in data["apps"]] == ["circus", "demo", "shop"]
    demo = data["apps"][1]["watchers"]
    assert [watcher["name"] for watcher in demo] == ["demo", "demo-worker"]
    assert demo[0]["processes"] == [
        {"pid": 5101, "cpu": 0.0, "mem": 1.5, "mem_rss": "31.02M", "age": 12.7},
        {"pid": 5102, "cpu": 0.5, "mem": 1.25, "mem_rss": "30.96M", "age": 12.5},
    ]
    assert demo[1]["processes"] == []
    assert [w["controllable"] for w in demo] == [True, True]
    assert data["apps"][0]["watchers"][0]["controllable"] is False


@pytest.mark.parametrize("path", ["/", "/status.json"])
def test_anyone_nginx_lets_in_reads(path):
    assert refused("GET", path, user="", operators=()) is None


def test_an_operator_with_the_pages_token_scales_and_reloads():
    for action in circus_status.ACTIONS:
        assert refused("POST", f"/watchers/demo/{action}") is None
    assert refused("POST", "/watchers/demo/incr", origin="http://status.example:8081") is None


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        ({"operators": ()}, (403, "read-only: no operator is enabled")),
        ({"user": "bob"}, (403, "not an operator")),
        ({"user": ""}, (403, "not an operator")),
        ({"token": ""}, (403, "missing or wrong X-CSRF-Token")),
        ({"token": "0" * 64}, (403, "missing or wrong X-CSRF-Token")),
        ({"origin": "http://elsewhere.example"}, (403, "cross-origin request")),
        ({"path": "/watchers/demo/rm"}, (404, "unknown action")),
        ({"path": "/watchers/nosuch/incr"}, (404, "unknown watcher")),
        ({"path": "/watchers/circusd-stats/decr"}, (403, "Circus's own watcher")),
        ({"path": "/watchers/demo"}, (404, "not found")),
        ({"method": "PUT"}, (405, "only GET, and POST /watchers/NAME/ACTION")),
        ({"method": "GET", "path": "/watchers/demo/incr"}, (404, "not found")),
    ],
)
def test_every_other_request_is_refused(request_, why):
    arguments = {"method": "POST", "path": "/watchers/demo/incr", **request_}
    assert refused(**arguments) == why


def test_a_token_is_the_users_own():
    assert circus_status.csrf_token(SECRET, "alice") != circus_status.csrf_token(SECRET, "bob")
    assert circus_status.csrf_token(SECRET, "alice") != circus_status.csrf_token(b"t" * 32, "alice")


def test_the_page_cannot_be_ended_by_a_user_name():
    page = circus_status.page("a</script><script>alert(1)//", "token")
    assert "</script><script>" not in page
    operator = page.split("const operator = ", 1)[1].split(";\n", 1)[0]
    assert json.loads(operator.replace("<\\/", "</")) == "a</script><script>alert(1)//"
    assert "https://" not in page and "http://" not in page
