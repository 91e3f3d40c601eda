"""The status page (circus role's circus_status, nginx_proxy's nginx_proxy_status): read
from this machine through nginx on the container's address, where basic auth guards it,
and watched in a real browser (Debian's headless Chromium) while the app scales."""

import base64
import json
import os
import pathlib
import re
import urllib.error
import urllib.request

import pytest
from helpers import circusctl

PORT = 8081
# The page's screenshot, committed as docs/status-page.png when it changes.
SCREENSHOT = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "build" / "status-page.png"


@pytest.fixture(scope="module")
def base_url(host):
    address = host.check_output("hostname -I").split()[0]
    return f"http://{address}:{PORT}/"


@pytest.fixture(scope="module")
def passwords(host):
    users = host.ansible.get_variables()["nginx_proxy_status_users"]
    return {user["name"]: user["password"] for user in users}


def request(url, user=None, password=None, method="GET", headers=None):
    """(status, headers, body) of one request from this machine."""
    headers = dict(headers or {})
    if user:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = "Basic " + pair
    data = b"" if method == "POST" else None
    try:
        answer = urllib.request.urlopen(
            urllib.request.Request(url, method=method, headers=headers, data=data), timeout=10
        )
    except urllib.error.HTTPError as error:
        answer = error
    return answer.status, answer.headers, answer.read().decode()


def page_token(page):
    return json.loads(re.search(r"^const token = (.*);$", page, re.MULTILINE).group(1))


def test_without_credentials_nginx_asks_for_them(base_url):
    status, headers, _body = request(base_url)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="Circus status"'


def test_a_wrong_password_is_refused(base_url, passwords):
    assert request(base_url, "viewer", passwords["viewer"] + "x")[0] == 401
    assert request(base_url + "status.json", "operator", "not-the-password")[0] == 401


def test_the_htpasswd_file_holds_hashes_only(host, passwords):
    htpasswd = host.file("/etc/nginx/webstack-status.htpasswd")
    assert (htpasswd.user, htpasswd.group, htpasswd.mode) == ("root", "www-data", 0o640)
    lines = htpasswd.content_string.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(passwords)
    assert all(line.split(":", 1)[1].startswith("$6$") for line in lines)
    assert not any(password in htpasswd.content_string for password in passwords.values())


def test_a_viewer_reads_the_watchers_and_their_processes(host, base_url, passwords):
    status, _headers, body = request(base_url + "status.json", "viewer", passwords["viewer"])
    assert status == 200
    apps = {app["name"]: app for app in json.loads(body)["apps"]}
    watcher = next(w for w in apps["demo"]["watchers"] if w["name"] == "demo")
    pids = sorted(int(pid) for pid in host.check_output(circusctl(host) + " list demo").split(","))
    assert [process["pid"] for process in watcher["processes"]] == pids
    for process in watcher["processes"]:
        assert isinstance(process["cpu"], float) and process["mem"] > 0, process
    assert "circusd-stats" in [w["name"] for w in apps["circus"]["watchers"]]


def test_a_viewer_may_not_change_anything(host, base_url, passwords):
    before = host.check_output(circusctl(host) + " numprocesses demo")
    page = request(base_url, "viewer", passwords["viewer"])[2]
    assert page_token(page) == ""
    incr = base_url + "watchers/demo/incr"
    status, _headers, body = request(
        incr, "viewer", passwords["viewer"], "POST", {"X-CSRF-Token": "x"}
    )
    assert (status, json.loads(body)) == (403, {"error": "not an operator"})
    # nginx replaces the client's own X-Remote-User with the user it authenticated.
    status = request(
        incr,
        "viewer",
        passwords["viewer"],
        "POST",
        {"X-CSRF-Token": "x", "X-Remote-User": "operator"},
    )[0]
    assert status == 403
    assert host.check_output(circusctl(host) + " numprocesses demo") == before


def test_an_operators_post_needs_the_pages_token(host, base_url, passwords):
    before = host.check_output(circusctl(host) + " numprocesses demo")
    incr = base_url + "watchers/demo/incr"
    status, _headers, body = request(incr, "operator", passwords["operator"], "POST")
    assert (status, json.loads(body)) == (403, {"error": "missing or wrong X-CSRF-Token"})
    token = page_token(request(base_url, "operator", passwords["operator"])[2])
    status = request(
        incr,
        "operator",
        passwords["operator"],
        "POST",
        {"X-CSRF-Token": token, "Origin": "http://elsewhere.example"},
    )[0]
    assert status == 403
    assert host.check_output(circusctl(host) + " numprocesses demo") == before


def test_the_site_nginx_runs_listens_wider_with_basic_auth(host):
    """This scenario opens the page on every address, so basic auth guards it; the role's
    loopback default is tested in tests/integration/test_nginx_proxy_status.py."""
    site = host.file("/etc/nginx/sites-enabled/webstack-status.conf").content_string
    assert "listen 0.0.0.0:8081;" in site
    assert "auth_basic_user_file /etc/nginx/webstack-status.htpasswd;" in site
    assert "proxy_set_header X-Remote-User $remote_user;" in site
