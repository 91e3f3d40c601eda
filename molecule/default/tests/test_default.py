"""The demo deployed by site.yml answers through nginx, served by Chaussette under Circus."""

import json
import re
import time
import uuid

import pytest
from helpers import circus_variables, circusctl, http_get, run_site, unpinned


@pytest.fixture
def demo(host):
    return host.ansible.get_variables()


def test_page_reads_the_database_through_nginx(host):
    answer = http_get(host, "/")
    assert answer["status"] == 200
    assert "webstack.circus demo" in answer["body"]
    assert answer["headers"]["Server"] == "nginx"


def test_health_view_answers(host):
    answer = http_get(host, "/healthz")
    assert answer["status"] == 200
    assert answer["body"].strip() == "ok"


def test_the_workers_leave_the_access_log_to_nginx(host):
    """django_app_access_log is off by default, for Chaussette (the Debian 12 host) and
    gunicorn (Debian 13): nginx logs the request, the workers' logs do not."""
    marker = uuid.uuid4().hex
    assert http_get(host, f"/healthz?marked={marker}")["status"] == 200
    # nginx writes its line once it has answered; a worker would have by then too.
    time.sleep(1)
    assert marker in host.file("/var/log/nginx/access.log").content_string
    for stream in ("stdout", "stderr"):
        log = host.file(f"/var/log/circus/demo.{stream}.log")
        assert log.exists
        assert marker not in log.content_string


def test_static_file_is_served_by_nginx_with_cache_headers(host):
    answer = http_get(host, "/static/greetings/site.css")
    assert answer["status"] == 200
    assert "webstack-demo-static" in answer["body"]
    assert answer["headers"]["Cache-Control"] == "max-age=2592000, public"
    assert "Expires" in answer["headers"]
    # nginx served it from the collected files, not Django.
    assert host.file("/srv/demo/static/greetings/site.css").exists


def test_published_static_files_are_root_s_and_closed_to_the_app(host, demo):
    """A page the app's user could put there would be served as the site's own."""
    found = host.check_output(
        "find /srv/demo/static %s/static ! -user root -o ! -group root",
        host.check_output("readlink -f /srv/demo/current"),
    )
    assert found == ""
    planted = host.run(
        f"runuser -u {demo['django_app_name']} -- touch /srv/demo/static/planted.html"
    )
    assert planted.rc != 0
    assert not host.file("/srv/demo/static/planted.html").exists


def test_circusd_runs_under_systemd(host):
    circusd = host.service("circusd")
    assert circusd.is_running
    assert circusd.is_enabled


def test_configured_number_of_workers_run_as_the_app_user(host, demo):
    processes = [
        line.split(None, 1) for line in host.check_output("ps -eo user:32=,args=").splitlines()
    ]
    if demo.get("django_app_server") == "gunicorn":
        # Each Circus process is a gunicorn master with one worker.
        marker, per_process = "/bin/gunicorn --bind fd://", 2
    else:
        marker, per_process = "/bin/chaussette --fd", 1
    workers = [user for user, args in processes if marker in args]
    assert workers == ["demo"] * demo["django_app_numprocesses"] * per_process


def test_circusd_runs_from_the_hosts_virtualenv_and_run_directory(host):
    # Debian 13 moves circus_run_dir and circus_venv only (host_vars): every other path
    # (endpoints, circusctl, the app's view of them) must follow.
    circus = circus_variables(host)
    ini = host.file(f"{circus['circus_conf_dir']}/circus.ini").content_string
    assert f"\nendpoint = {circus['circus_endpoint']}\n" in ini
    assert f"\npubsub_endpoint = {circus['circus_pubsub_endpoint']}\n" in ini
    assert circus["circus_endpoint"] == f"ipc://{circus['circus_run_dir']}/circusd.sock"
    run_dir = host.file(circus["circus_run_dir"])
    assert (run_dir.user, run_dir.group, run_dir.mode) == (
        "root",
        circus["circus_admin_group"],
        0o750,
    )
    assert host.file(circus["circus_endpoint"].removeprefix("ipc://")).is_socket
    main_pid = host.check_output("systemctl show --property MainPID --value circusd")
    command = host.file(f"/proc/{main_pid}/cmdline").content_string.split("\0")
    assert f"{circus['circus_venv']}/bin/circusd" in command
    assert host.run(f"{circusctl(host)} list").rc == 0


def test_app_socket_is_held_by_circusd(host):
    assert host.socket("tcp://127.0.0.1:8000").is_listening
    sockets = json.loads(host.check_output(f"{circusctl(host)} --json listsockets"))["sockets"]
    assert [(each["name"], each["host"], each["port"]) for each in sockets] == [
        ("demo", "127.0.0.1", 8000)
    ]


def test_nginx_configuration_is_valid_and_hides_its_version(host):
    assert host.run("nginx -t").rc == 0
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    assert http_get(host, "/")["headers"]["Server"] == "nginx"


def test_no_multicast_discovery(host):
    assert not host.socket("udp://0.0.0.0:12027").is_listening


def test_the_workers_run_the_recorded_release(host):
    release = host.file("/srv/demo/current").linked_to.rsplit("/", 1)[1]
    state = json.loads(host.file("/srv/demo/deploy-state.json").content_string)
    assert state["history"][-1] == release
    assert state["loaded"].startswith(release + "+")
    assert json.loads(http_get(host, "/version")["body"])["release"] == release
    # The code of the release is root's: the app's user cannot change what it runs.
    assert host.file(f"/srv/demo/releases/{release}/app/manage.py").user == "root"


def test_pages_link_hashed_static_files_that_nginx_serves(host):
    page = http_get(host, "/")["body"]
    stylesheet = re.search(r'href="(/static/greetings/site\.[0-9a-f]{12}\.css)"', page)[1]
    answer = http_get(host, stylesheet)
    assert answer["status"] == 200
    assert "webstack-demo-static" in answer["body"]


def test_the_demo_pins_every_package_it_installs(host, demo):
    """demo/requirements.txt pins the demo's dependencies and theirs, so that a fresh host
    installs what CI tested: the app's virtualenv holds nothing else at another version
    than pinned, but the server the role installs (Chaussette on Debian 12, gunicorn on
    Debian 13) and its own requirements."""
    server = demo.get("django_app_server", "chaussette")
    assert unpinned(host, "demo", "requirements.txt", server) == []


def test_the_host_gets_git_only_for_a_git_source_and_the_app_s_own_packages(host, demo):
    """git comes with a git source (Debian 13 here; its prepare.yml removes the git it used
    to make the repository), not with code shipped from the controller (Debian 12);
    django_app_system_packages are installed."""
    from_git = str(demo["django_app_source"]).startswith("git+")
    assert host.package("git").is_installed == from_git
    wanted = demo.get("django_app_system_packages", [])
    assert wanted or from_git
    for package in wanted:
        assert host.package(package).is_installed, package


def test_an_unknown_git_ref_fails_before_the_release_changes(host, demo):
    if not str(demo["django_app_source"]).startswith("git+"):
        pytest.skip("this host deploys a directory")
    before = host.file("/srv/demo/current").linked_to
    result = run_site(host, "-e", "django_app_version=no-such-branch")
    assert result.returncode != 0
    output = result.stdout
    assert "git ref 'no-such-branch' (django_app_version) was not found" in output, output
    assert host.file("/srv/demo/current").linked_to == before


@pytest.mark.parametrize("path", ["/", "/static/greetings/site.css"])
def test_nginx_sends_each_security_header_once(host, path):
    headers = http_get(host, path)["headers"]
    # Django sends its own nosniff, X-Frame-Options and Referrer-Policy (same-origin):
    # nginx hides them and sends the role's, so each header has one value.
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in headers


@pytest.fixture
def upload(host):
    """Writes files into the demo's media directory as its user would; removes them."""
    made = []

    def write(name, content=None, link_to=None):
        path = f"/srv/demo/media/{name}"
        if link_to:
            host.check_output("ln -s %s %s && chown -h demo:demo %s", link_to, path, path)
        else:
            host.check_output("printf %s %s > %s && chown demo:demo %s", "%s", content, path, path)
        made.append(path)

    yield write
    for path in made:
        host.run("rm -f %s", path)


def test_an_uploaded_page_is_not_served_as_a_page(host, upload):
    upload("page.html", "<script>alert(document.cookie)</script>")
    upload("image.svg", '<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>')
    for name in ("page.html", "image.svg"):
        answer = http_get(host, f"/media/{name}")
        assert answer["status"] == 200
        assert answer["headers"]["Content-Type"] == "application/octet-stream"
        assert answer["headers"]["X-Content-Type-Options"] == "nosniff"
        assert answer["headers"]["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_link_in_media_to_the_settings_is_not_followed(host, upload):
    upload("settings.txt", link_to="/srv/demo/current/app/mysite/settings.py")
    answer = http_get(host, "/media/settings.txt")
    assert answer["status"] == 403
    assert "SECRET_KEY" not in answer["body"]


def test_dotfiles_in_media_are_not_found(host, upload):
    upload(".env", "SECRET=1")
    assert http_get(host, "/media/.env")["status"] == 404


def test_the_demo_site_is_the_default_server_and_no_catch_all_is_enabled(host):
    assert not host.file("/etc/nginx/sites-enabled/webstack-catch-all.conf").exists
    assert "default_server" in host.file("/etc/nginx/sites-available/demo.conf").content_string
