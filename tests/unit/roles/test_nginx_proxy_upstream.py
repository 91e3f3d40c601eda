"""The nginx_proxy role's upstream marker, on a site as the role's template writes it."""

import importlib.util
import pathlib

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


def servers(text):
    """The upstream's server lines."""
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line.startswith("server ") and line.endswith(";")]


def test_down_marks_only_the_given_hosts_and_up_puts_the_site_back():
    marked, kept = upstream.mark(SITE, {"app1", "[fd00::3]"}, down=True)
    assert servers(marked) == [
        "server app1:8000 max_fails=3 fail_timeout=10s down;",
        "server app2:8000 max_fails=3 fail_timeout=10s;",
        "server [fd00::3]:8000 max_fails=3 fail_timeout=10s down;",
    ]
    assert kept == []
    assert upstream.mark(marked, {"app1", "[fd00::3]"}, down=False) == (SITE, [])


def test_marking_twice_changes_nothing_more():
    marked, _kept = upstream.mark(SITE, {"app2"}, down=True)
    assert upstream.mark(marked, {"app2"}, down=True)[0] == marked
    assert upstream.mark(SITE, {"app2"}, down=False)[0] == SITE


def test_down_keeps_the_last_server_of_an_upstream_up():
    marked, _kept = upstream.mark(SITE, {"app1", "app2"}, down=True)
    marked, kept = upstream.mark(marked, {"[fd00::3]"}, down=True)
    assert servers(marked)[2] == "server [fd00::3]:8000 max_fails=3 fail_timeout=10s;"
    assert kept == ["webstack_demo [fd00::3]:8000"]


def test_servers_outside_the_role_upstreams_are_left_alone():
    other = SITE.replace("upstream webstack_demo", "upstream theirs")
    assert upstream.mark(other, {"app1"}, down=True) == (other, [])
