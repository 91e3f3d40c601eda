"""nginx_upstream, on a site as the nginx_proxy role's template writes it and on server
lines written by hand: the pure planning, the writes with their restore, and the module's
results in check mode and real runs."""

import errno
import json
import os
import pathlib

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.webstack.circus.plugins.modules import nginx_upstream as upstream

ROLE = pathlib.Path(__file__).parents[4] / "roles/nginx_proxy"

SITE = """\
upstream webstack_demo {
    server app1:8000 max_fails=3 fail_timeout=10s;
    server app2:8000 max_fails=3 fail_timeout=10s;
    server [fd00::3]:8000 max_fails=3 fail_timeout=10s;
}

server {
    listen 80 default_server;
    location / {
        proxy_pass http://webstack_demo;
    }
}
"""

BY_HAND = """\
upstream webstack_shop {  # written by hand
    server 10.0.0.5:8000 max_fails=3;  # app1
    server 10.0.0.6:8000 down max_fails=3 fail_timeout=10s;
    server 10.0.0.7:8000 weight=2 down;
    server 10.0.0.8:8000;
}
"""


def servers(text):
    """The upstream's server lines, without comments."""
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    return [line for line in lines if line.startswith("server ") and line.endswith(";")]


def test_drained_marks_only_the_given_hosts_and_enabled_puts_the_site_back():
    marked = upstream.mark(SITE, {"app1", "[fd00::3]"}, down=True)
    assert servers(marked.text) == [
        "server app1:8000 max_fails=3 fail_timeout=10s down;",
        "server app2:8000 max_fails=3 fail_timeout=10s;",
        "server [fd00::3]:8000 max_fails=3 fail_timeout=10s down;",
    ]
    assert marked.kept == []
    assert marked.matched == {"app1", "[fd00::3]"}
    assert marked.upstreams == {
        "webstack_demo": [
            {"address": "app1:8000", "down": True},
            {"address": "app2:8000", "down": False},
            {"address": "[fd00::3]:8000", "down": True},
        ]
    }
    back = upstream.mark(marked.text, {"app1", "[fd00::3]"}, down=False)
    assert (back.text, back.kept) == (SITE, [])


def test_marking_twice_changes_nothing_more():
    marked = upstream.mark(SITE, {"app2"}, down=True).text
    assert upstream.mark(marked, {"app2"}, down=True).text == marked
    assert upstream.mark(SITE, {"app2"}, down=False).text == SITE


def test_drained_keeps_the_last_server_of_an_upstream_up():
    marked = upstream.mark(SITE, {"app1", "app2"}, down=True).text
    marked = upstream.mark(marked, {"[fd00::3]"}, down=True)
    assert servers(marked.text)[2] == "server [fd00::3]:8000 max_fails=3 fail_timeout=10s;"
    assert marked.kept == ["webstack_demo [fd00::3]:8000"]
    assert marked.upstreams["webstack_demo"][2] == {"address": "[fd00::3]:8000", "down": False}


def test_servers_outside_the_role_upstreams_are_left_alone():
    other = SITE.replace("upstream webstack_demo", "upstream theirs")
    assert upstream.mark(other, {"app1"}, down=True) == (other, [], set(), {})


def test_ip_addresses_comments_and_down_anywhere_are_understood():
    marked = upstream.mark(BY_HAND, {"10.0.0.5"}, down=True)
    assert marked.matched == {"10.0.0.5"}
    assert marked.text.splitlines()[1] == "    server 10.0.0.5:8000 max_fails=3 down;  # app1"
    marked = upstream.mark(BY_HAND, {"10.0.0.6", "10.0.0.7:8000"}, down=False)
    assert marked.matched == {"10.0.0.6", "10.0.0.7:8000"}
    assert servers(marked.text)[1:] == [
        "server 10.0.0.6:8000 max_fails=3 fail_timeout=10s;",
        "server 10.0.0.7:8000 weight=2;",
        "server 10.0.0.8:8000;",
    ]


def test_a_server_in_no_upstream_is_refused_naming_only_it():
    with pytest.raises(upstream.UnknownServers) as refused:
        upstream.plan({"/s/demo.conf": SITE}, {"app1", "webstack-app9", "10.9.9.9"}, True)
    assert refused.value.args[0] == ["10.9.9.9", "webstack-app9"]


def test_the_plan_holds_each_changed_file_before_and_after_and_every_upstream():
    sites = {"/s/demo.conf": SITE, "/s/shop.conf": BY_HAND}
    planned = upstream.plan(sites, {"app2"}, True)
    assert list(planned.changes) == ["/s/demo.conf"]
    before, after = planned.changes["/s/demo.conf"]
    assert before == SITE
    assert "server app2:8000 max_fails=3 fail_timeout=10s down;" in servers(after)
    assert planned.upstreams["webstack_shop"]["file"] == "/s/shop.conf"
    assert [server["down"] for server in planned.upstreams["webstack_shop"]["servers"]] == [
        False,
        True,
        True,
        False,
    ]
    assert upstream.diffs(planned.changes) == [
        {
            "before_header": "/s/demo.conf",
            "after_header": "/s/demo.conf",
            "before": SITE,
            "after": after,
        }
    ]


def test_no_server_reads_the_marks_and_changes_nothing():
    planned = upstream.plan({"/s/shop.conf": BY_HAND}, set(), True)
    assert planned.changes == {}
    assert planned.upstreams["webstack_shop"]["servers"][1] == {
        "address": "10.0.0.6:8000",
        "down": True,
    }


def test_the_default_path_is_where_the_role_writes_its_sites():
    role_vars = yaml.safe_load((ROLE / "vars/main.yml").read_text())
    available = role_vars["__nginx_proxy_sites_available"].replace(
        "{{ __nginx_proxy_conf_dir }}", role_vars["__nginx_proxy_conf_dir"]
    )
    assert upstream.ARGUMENT_SPEC["path"]["default"] == available


@pytest.fixture
def sites(tmp_path):
    """Two site files, one with its own mode and owner."""
    directory = tmp_path / "sites-available"
    directory.mkdir()
    (directory / "demo.conf").write_text(SITE)
    (directory / "shop.conf").write_text(BY_HAND)
    (directory / "demo.conf").chmod(0o640)
    os.chown(directory / "demo.conf", 1234, 1235)
    return directory


class Runner:
    """Stands in for module.run_command: logs each argv, answers from a table."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or {}

    def __call__(self, argv):
        self.calls.append(argv[0])
        answer = self.answers.get(argv[0], (0, "", ""))
        if isinstance(answer, Exception):
            raise answer
        return answer


VALIDATE = ["check"]
RELOAD = ["reload"]


def texts(directory):
    return {path.name: path.read_text() for path in sorted(directory.iterdir())}


def planned(directory, names, down=True):
    return upstream.plan(upstream.read_sites(str(directory)), set(names), down)


def test_files_keep_their_mode_and_owner_and_nginx_is_checked_then_reloaded(sites):
    run = Runner()
    upstream.apply(planned(sites, ["app2", "10.0.0.5"]).changes, VALIDATE, RELOAD, run)
    demo = (sites / "demo.conf").stat()
    assert (demo.st_mode & 0o7777, demo.st_uid, demo.st_gid) == (0o640, 1234, 1235)
    assert "server app2:8000 max_fails=3 fail_timeout=10s down;" in servers(
        (sites / "demo.conf").read_text()
    )
    assert run.calls == ["check", "reload"]
    # No temporary file or original is left beside the sites.
    assert sorted(path.name for path in sites.iterdir()) == ["demo.conf", "shop.conf"]


def test_an_empty_reload_command_writes_and_checks_without_reloading(sites):
    run = Runner()
    upstream.apply(planned(sites, ["app2"]).changes, VALIDATE, [], run)
    assert run.calls == ["check"]
    assert "down;" in (sites / "demo.conf").read_text()


def test_a_refused_configuration_puts_every_file_back(sites):
    before = texts(sites)
    run = Runner({"check": (1, "", "emerg: broken\n")})
    with pytest.raises(upstream.ApplyError) as failed:
        upstream.apply(planned(sites, ["app2", "10.0.0.5"]).changes, VALIDATE, RELOAD, run)
    assert "nginx refused the marked sites (check, rc 1): emerg: broken" in str(failed.value)
    assert "put back as they were" in str(failed.value)
    assert run.calls == ["check"]
    assert texts(sites) == before


def test_a_failed_reload_puts_every_file_back(sites):
    before = texts(sites)
    run = Runner({"reload": (1, "", "nginx.service is not active")})
    with pytest.raises(upstream.ApplyError) as failed:
        upstream.apply(planned(sites, ["10.0.0.6"], down=False).changes, VALIDATE, RELOAD, run)
    assert "the reload failed (reload, rc 1): nginx.service is not active" in str(failed.value)
    assert texts(sites) == before


def test_a_missing_nginx_puts_every_file_back(sites):
    before = texts(sites)
    run = Runner({"check": FileNotFoundError(errno.ENOENT, "No such file or directory", "check")})
    with pytest.raises(upstream.ApplyError) as failed:
        upstream.apply(planned(sites, ["app2"]).changes, VALIDATE, RELOAD, run)
    assert "No such file or directory" in str(failed.value)
    assert texts(sites) == before


def test_a_full_disk_puts_back_what_was_written(sites, monkeypatch):
    before = texts(sites)
    write = upstream.write_atomically

    def full_on_the_second_file(path, text):
        if path.endswith("shop.conf"):
            raise OSError(errno.ENOSPC, "No space left on device")
        write(path, text)

    monkeypatch.setattr(upstream, "write_atomically", full_on_the_second_file)
    run = Runner()
    with pytest.raises(upstream.ApplyError) as failed:
        upstream.apply(planned(sites, ["app2", "10.0.0.5"]).changes, VALIDATE, RELOAD, run)
    assert "No space left on device" in str(failed.value)
    assert texts(sites) == before
    demo = (sites / "demo.conf").stat()
    assert (demo.st_mode & 0o7777, demo.st_uid, demo.st_gid) == (0o640, 1234, 1235)
    assert run.calls == []


def test_a_missing_directory_has_no_sites(tmp_path):
    assert upstream.read_sites(str(tmp_path / "nowhere")) == {}


def run_module(capsys, args, check_mode=False, diff=False):
    """The module's main() on the args: (result, exited with failure)."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        upstream.main()
    return json.loads(capsys.readouterr().out), exited.value.code != 0


def module_args(sites, tmp_path, servers, state="drained"):
    calls = tmp_path / "calls"
    return {
        "servers": servers,
        "state": state,
        "path": str(sites),
        "validate": ["sh", "-c", f"echo check >> {calls}"],
        "reload_command": ["sh", "-c", f"echo reload >> {calls}"],
    }


def test_check_mode_predicts_the_real_run_with_the_same_keys_and_diff(sites, tmp_path, capsys):
    args = module_args(sites, tmp_path, ["app2", "10.0.0.5"])
    before = texts(sites)
    predicted, failed = run_module(capsys, args, check_mode=True, diff=True)
    assert not failed
    assert texts(sites) == before
    assert not (tmp_path / "calls").exists()
    done, failed = run_module(capsys, args, diff=True)
    assert not failed
    assert (tmp_path / "calls").read_text() == "check\nreload\n"
    for result in (predicted, done):
        result.pop("invocation")
    assert predicted == done
    assert done["changed"] is True
    assert done["sites"] == [str(sites / "demo.conf"), str(sites / "shop.conf")]
    assert [diff["after"] for diff in done["diff"]] == [
        (sites / "demo.conf").read_text(),
        (sites / "shop.conf").read_text(),
    ]
    assert [diff["before"] for diff in done["diff"]] == [before["demo.conf"], before["shop.conf"]]
    again, _failed = run_module(capsys, args, check_mode=True)
    assert (again["changed"], again["sites"]) == (False, [])
    assert again["upstreams"] == done["upstreams"]


def test_the_module_fails_naming_unknown_servers_and_changes_nothing(sites, tmp_path, capsys):
    before = texts(sites)
    result, failed = run_module(capsys, module_args(sites, tmp_path, ["app1", "webstack-app9"]))
    assert failed
    assert "names webstack-app9: nothing was changed" in result["msg"]
    assert "deploy_upstream_host" in result["msg"]
    assert result["unknown"] == ["webstack-app9"]
    assert texts(sites) == before
    assert not (tmp_path / "calls").exists()


def test_the_module_fails_with_the_refusal_and_the_files_put_back(sites, tmp_path, capsys):
    before = texts(sites)
    args = dict(
        module_args(sites, tmp_path, ["app1"]), validate=["sh", "-c", "echo bad >&2; exit 1"]
    )
    result, failed = run_module(capsys, args)
    assert failed
    assert "nginx refused the marked sites" in result["msg"]
    assert "bad" in result["msg"]
    assert texts(sites) == before


def test_the_module_refuses_an_empty_validate(sites, tmp_path, capsys):
    result, failed = run_module(capsys, dict(module_args(sites, tmp_path, ["app1"]), validate=[]))
    assert failed
    assert "validate must be a command" in result["msg"]
    assert "down" not in (sites / "demo.conf").read_text()
