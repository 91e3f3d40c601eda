"""Logs survive logrotate (the circus role's file, Debian's for nginx), and the flapping
plugin runs with the app's watcher."""

import time
import uuid

from helpers import circusctl, http_get


def wait_for_line(host, path, text, timeout=15):
    """Whether text is in the file within timeout seconds: a renamed log is reopened at
    the next line the program writes, which may come after the command that caused it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.file(path).exists and text in host.file(path).content_string:
            return True
        time.sleep(0.5)
    return False


def request_with_marker(host):
    """A request to the app through nginx whose query string no log line has yet."""
    marker = uuid.uuid4().hex
    assert http_get(host, f"/healthz?rotated={marker}")["status"] == 200
    return marker


def test_app_logs_follow_logrotate(host):
    rotated = host.run("logrotate --force /etc/logrotate.d/circus")
    assert rotated.rc == 0, rotated.stderr
    assert host.file("/var/log/circus/demo.stderr.log.1").exists
    marker = request_with_marker(host)
    # Chaussette logs each request on stderr (django_app_access_log, on in this scenario):
    # the watcher's stream reopened the new file.
    assert marker in host.file("/var/log/circus/demo.stderr.log").content_string
    assert marker not in host.file("/var/log/circus/demo.stderr.log.1").content_string


def test_circusd_log_follows_logrotate(host):
    rotated = host.run("logrotate --force /etc/logrotate.d/circus")
    assert rotated.rc == 0, rotated.stderr
    # A command circusd logs, harmless to the app: the flapping plugin is restarted.
    restart = host.run(f"{circusctl(host)} restart plugin:flapping")
    assert restart.rc == 0, restart.stdout + restart.stderr
    assert wait_for_line(host, "/var/log/circus/circusd.log", "plugin:flapping")
    assert (
        "plugin:flapping restarted" not in host.file("/var/log/circus/circusd.log.1").content_string
    )


def test_nginx_access_log_follows_logrotate(host):
    rotated = host.run("logrotate --force /etc/logrotate.d/nginx")
    assert rotated.rc == 0, rotated.stderr
    marker = request_with_marker(host)
    assert marker in host.file("/var/log/nginx/access.log").content_string
    assert marker not in host.file("/var/log/nginx/access.log.1").content_string


def test_flapping_plugin_watches_the_app(host):
    ini = host.file("/etc/circus/circus.ini").content_string
    assert "[plugin:flapping]\nuse = webstack_circus_plugins.Flapping\n" in ini
    assert "flapping.active" not in host.file("/etc/circus/conf.d/demo.ini").content_string
    status = host.run(f"{circusctl(host)} status plugin:flapping")
    assert status.stdout.strip() == "active", status.stdout + status.stderr
