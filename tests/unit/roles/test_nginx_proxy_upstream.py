"""The nginx_proxy role's upstream marker, on a site as the role's template writes it and
on server lines written by hand."""

import errno
import importlib.util
import json
import os
import pathlib

import pytest

SCRIPT = pathlib.Path(__file__).parents[3] / "roles/nginx_proxy/files/nginx_proxy_upstream.py"
SPEC = importlib.util.spec_from_file_location("nginx_proxy_upstream", SCRIPT)
upstream = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(upstream)

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


def test_down_marks_only_the_given_hosts_and_up_puts_the_site_back():
    marked, kept, matched = upstream.mark(SITE, {"app1", "[fd00::3]"}, down=True)
    assert servers(marked) == [
        "server app1:8000 max_fails=3 fail_timeout=10s down;",
        "server app2:8000 max_fails=3 fail_timeout=10s;",
        "server [fd00::3]:8000 max_fails=3 fail_timeout=10s down;",
    ]
    assert kept == []
    assert matched == {"app1", "[fd00::3]"}
    assert upstream.mark(marked, {"app1", "[fd00::3]"}, down=False)[:2] == (SITE, [])


def test_marking_twice_changes_nothing_more():
    marked = upstream.mark(SITE, {"app2"}, down=True)[0]
    assert upstream.mark(marked, {"app2"}, down=True)[0] == marked
    assert upstream.mark(SITE, {"app2"}, down=False)[0] == SITE


def test_down_keeps_the_last_server_of_an_upstream_up():
    marked = upstream.mark(SITE, {"app1", "app2"}, down=True)[0]
    marked, kept, _matched = upstream.mark(marked, {"[fd00::3]"}, down=True)
    assert servers(marked)[2] == "server [fd00::3]:8000 max_fails=3 fail_timeout=10s;"
    assert kept == ["webstack_demo [fd00::3]:8000"]


def test_servers_outside_the_role_upstreams_are_left_alone():
    other = SITE.replace("upstream webstack_demo", "upstream theirs")
    assert upstream.mark(other, {"app1"}, down=True) == (other, [], set())


def test_ip_addresses_comments_and_down_anywhere_are_understood():
    marked, _kept, matched = upstream.mark(BY_HAND, {"10.0.0.5"}, down=True)
    assert matched == {"10.0.0.5"}
    assert marked.splitlines()[1] == "    server 10.0.0.5:8000 max_fails=3 down;  # app1"
    marked, _kept, matched = upstream.mark(BY_HAND, {"10.0.0.6", "10.0.0.7:8000"}, down=False)
    assert matched == {"10.0.0.6", "10.0.0.7:8000"}
    assert servers(marked)[1:] == [
        "server 10.0.0.6:8000 max_fails=3 fail_timeout=10s;",
        "server 10.0.0.7:8000 weight=2;",
        "server 10.0.0.8:8000;",
    ]


@pytest.fixture
def sites(tmp_path, monkeypatch):
    """Two site files, nginx's check and reload replaced by commands that log their call."""
    directory = tmp_path / "sites-available"
    directory.mkdir()
    (directory / "demo.conf").write_text(SITE)
    (directory / "shop.conf").write_text(BY_HAND)
    (directory / "demo.conf").chmod(0o640)
    os.chown(directory / "demo.conf", 1234, 1235)
    calls = tmp_path / "calls"
    monkeypatch.setattr(upstream, "SITES", str(directory / "*.conf"))
    monkeypatch.setattr(upstream, "CHECK", ["sh", "-c", f"echo check >> {calls}"])
    monkeypatch.setattr(upstream, "RELOAD", ["sh", "-c", f"echo reload >> {calls}"])
    return directory


def texts(directory):
    return {path.name: path.read_text() for path in sorted(directory.iterdir())}


def test_a_host_in_no_upstream_fails_naming_it_and_changes_nothing(sites, capsys):
    before = texts(sites)
    with pytest.raises(SystemExit) as exit_:
        upstream.main(["down", "app1", "webstack-app9", "10.9.9.9"])
    message = str(exit_.value.code)
    assert "10.9.9.9, webstack-app9" in message
    assert "app1" not in message.split("names ")[1].split(":")[0]
    assert "deploy_upstream_host" in message
    assert texts(sites) == before
    assert capsys.readouterr().out == ""


def test_marked_files_keep_their_mode_and_owner_and_nginx_is_checked_then_reloaded(sites, capsys):
    upstream.main(["down", "app2", "10.0.0.5"])
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] is True
    assert result["sites"] == [str(sites / "demo.conf"), str(sites / "shop.conf")]
    demo = (sites / "demo.conf").stat()
    assert (demo.st_mode & 0o7777, demo.st_uid, demo.st_gid) == (0o640, 1234, 1235)
    assert "server app2:8000 max_fails=3 fail_timeout=10s down;" in servers(
        (sites / "demo.conf").read_text()
    )
    assert (sites.parent / "calls").read_text() == "check\nreload\n"
    # No temporary file or original is left beside the sites.
    assert sorted(path.name for path in sites.iterdir()) == ["demo.conf", "shop.conf"]


def test_a_refused_configuration_puts_every_file_back(sites, monkeypatch):
    before = texts(sites)
    monkeypatch.setattr(upstream, "CHECK", ["sh", "-c", "echo 'emerg: broken' >&2; exit 1"])
    with pytest.raises(SystemExit) as exit_:
        upstream.main(["down", "app2", "10.0.0.5"])
    assert "nginx refused the marked sites: emerg: broken" in str(exit_.value.code)
    assert "put back as they were" in str(exit_.value.code)
    assert texts(sites) == before


def test_a_failed_reload_puts_every_file_back(sites, monkeypatch):
    before = texts(sites)
    monkeypatch.setattr(upstream, "RELOAD", ["false"])
    with pytest.raises(SystemExit) as exit_:
        upstream.main(["up", "10.0.0.6"])
    assert "false failed" in str(exit_.value.code)
    assert texts(sites) == before


def test_a_full_disk_puts_back_what_was_written_without_a_traceback(sites, monkeypatch):
    before = texts(sites)
    write = upstream.write_atomically

    def full_on_the_second_file(path, text):
        if path.endswith("shop.conf"):
            raise OSError(errno.ENOSPC, "No space left on device")
        write(path, text)

    monkeypatch.setattr(upstream, "write_atomically", full_on_the_second_file)
    with pytest.raises(SystemExit) as exit_:
        upstream.main(["down", "app2", "10.0.0.5"])
    assert "No space left on device" in str(exit_.value.code)
    assert texts(sites) == before
    demo = (sites / "demo.conf").stat()
    assert (demo.st_mode & 0o7777, demo.st_uid, demo.st_gid) == (0o640, 1234, 1235)
    assert not (sites.parent / "calls").exists()
