"""The circus role's plugins and streams (roles/circus/files/webstack_circus_plugins.py),
and Circus's statsd plugin, in a real circusd. circusd imports the module from its
working directory, as the role's virtualenv does from its site-packages: the plugins'
processes run `python -c` in circusd's working directory. The [plugin:…] sections are
the roles' own, rendered from their templates (circus.ini.j2, watcher.ini.j2)."""

import contextlib
import json
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import BIN, CIRCUS_HEADER, circusd_running, free_port, run_playbook


def rendered(out, role, template, **variables):
    """A role's template as the role renders it with these variables."""
    path = out / f"{role}-{template}"
    variables = dict(variables, role=role, template=template, template_out=str(path))
    result = run_playbook("roles/render_template.yml", "-e", json.dumps(variables))
    assert result.returncode == 0, result.stdout + result.stderr
    return path.read_text()


def section(text, name):
    """The section [name] of an ini text."""
    start = text.index(f"\n[{name}]\n") + 1
    end = text.find("\n[", start)
    return text[start : end if end != -1 else len(text)].strip() + "\n"


@pytest.fixture(scope="module")
def role_sections(tmp_path_factory):
    """The plugin sections the circus role (flapping, statsd) and the django_app role (the
    health observer of an app named web) write, with short delays, and their ports."""
    out = tmp_path_factory.mktemp("rendered")
    statsd_port, health_port = free_port(), free_port()
    circus = rendered(
        out,
        "circus",
        "circus.ini.j2",
        circus_flapping=True,
        circus_flapping_attempts=2,
        circus_flapping_window=1,
        circus_flapping_retry_in=2,
        circus_flapping_max_retry=2,
        circus_statsd_host="127.0.0.1",
        circus_statsd_port=statsd_port,
    )
    app = rendered(
        out,
        "django_app",
        "watcher.ini.j2",
        django_app_name="web",
        django_app_source="/nonexistent",
        django_app_wsgi_application="web.wsgi.application",
        django_app_settings_module="web.settings",
        django_app_socket_host="127.0.0.1",
        django_app_socket_port=health_port,
        django_app_health_path="/healthz",
        django_app_health_observer=True,
        django_app_health_observer_interval=1,
        django_app_health_observer_timeout=1,
        django_app_health_observer_failures=2,
    )
    return dict(
        flapping_plugin=section(circus, "plugin:flapping"),
        statsd_plugin=section(circus, "plugin:statsd"),
        health_plugin=section(app, "plugin:web_health"),
        statsd_port=statsd_port,
        health_port=health_port,
    )


PLUGINS = pathlib.Path(__file__).parents[2] / "roles" / "circus" / "files"


@pytest.fixture
def start_circusd(tmp_path, role_sections):
    """Starts circusd on an ini (formatted with endpoint, tmp and the role_sections) in a
    directory holding the plugins' module; returns a function that runs circusctl --json."""
    workdir = tmp_path / "circusd"
    workdir.mkdir()
    shutil.copy(PLUGINS / "webstack_circus_plugins.py", workdir)
    endpoint = f"ipc://{tmp_path}/circusd.sock"
    circusctl = str(BIN / "circusctl")
    with contextlib.ExitStack() as daemons:

        def start(ini_text):
            ini = tmp_path / "circus.ini"
            ini.write_text(ini_text.format(endpoint=endpoint, tmp=tmp_path, **role_sections))
            daemons.enter_context(
                circusd_running(
                    ini,
                    endpoint,
                    tmp_path / "circusd.out",
                    cwd=workdir,
                    env={"PATH": str(BIN) + ":/usr/bin:/bin", "PYTHONPATH": str(workdir)},
                )
            )

            def ctl(*args):
                result = subprocess.run(
                    [circusctl, "--endpoint", endpoint, "--json", *args],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                return json.loads(result.stdout)

            return ctl

        yield start


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.5)


# The flapping plugin as the circus role writes it, with short delays (role_sections).
FLAPPING_PLUGIN = """
{flapping_plugin}
"""

FLAPPING = (
    CIRCUS_HEADER
    + FLAPPING_PLUGIN
    + """
[watcher:crashing]
cmd = /bin/false

[watcher:crashing_unwatched]
cmd = /bin/false
flapping.active = False

[watcher:sleeper]
cmd = sleep 100000
numprocesses = 2
"""
)


def test_flapping_leaves_a_crashing_watcher_stopped(start_circusd):
    ctl = start_circusd(FLAPPING)

    def statuses():
        return ctl("status")["statuses"]

    def stopped_past_retry_in():
        # retry_in is 2 s: a stop it does not undo within 3 s is the last one.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if statuses()["crashing"] != "stopped":
                return False
            time.sleep(0.2)
        return True

    # Stopped, started again after retry_in twice (max_retry), then left stopped.
    wait_for(stopped_past_retry_in, 60, "crashing left stopped")
    time.sleep(6)
    now = statuses()
    assert now["crashing"] == "stopped", now
    assert ctl("status", "crashing")["status"] == "stopped"
    # A watcher that turned it off keeps respawning, a healthy one runs on, and a
    # graceful reload (its processes are killed, not reaped) is not flapping.
    assert now["crashing_unwatched"] == "active", now
    before = set(ctl("list", "sleeper")["pids"])
    # circusd refuses a command while it is busy respawning crashing_unwatched (errno 5,
    # "already running"): the reload is sent again until it is taken.
    wait_for(lambda: ctl("reload", "sleeper", "--waiting")["status"] == "ok", 20, "reloaded")
    time.sleep(4)
    assert statuses()["sleeper"] == "active"
    assert not before & set(ctl("list", "sleeper")["pids"])
    # What a deploy does to a stopped watcher (circus_watcher state=started): it runs again
    # (once circusd is not busy respawning crashing_unwatched: errno 5, "already running").
    wait_for(lambda: ctl("start", "crashing", "--waiting")["status"] == "ok", 20, "started")
    assert ctl("status", "crashing")["status"] == "active"


SLEEPERS = (
    CIRCUS_HEADER
    + FLAPPING_PLUGIN
    + """
[watcher:sleeper]
cmd = sleep 100000
numprocesses = 3
"""
)


def test_a_watcher_stopped_on_command_is_not_flapping(start_circusd):
    ctl = start_circusd(SLEEPERS)
    wait_for(lambda: len(ctl("list", "sleeper")["pids"]) == 3, 30, "three sleepers")
    # Its processes die within the flapping window as it stops, which is no crash: past
    # retry_in (2 s) the plugin has not started it again.
    ctl("stop", "sleeper", "--waiting")
    time.sleep(6)
    assert ctl("status", "sleeper")["status"] == "stopped"
    assert ctl("list", "sleeper")["pids"] == []


def test_a_restarted_watcher_is_not_flapping(start_circusd):
    """A restart (what a deploy does to a queue worker) kills every process at once and
    starts new ones: the deaths are circusd's kills, not crashes, even when the plugin
    handles them after the restart has finished (the watcher active again, its processes
    young). It used to stop the watcher it had just restarted (seen with Celery)."""
    ctl = start_circusd(SLEEPERS)
    wait_for(lambda: len(ctl("list", "sleeper")["pids"]) == 3, 30, "three sleepers")
    for restart in range(1, 4):
        before = set(ctl("list", "sleeper")["pids"])
        ctl("restart", "sleeper", "--waiting")
        # Past retry_in (2 s): a stop by the plugin would show, or its restart would
        # have replaced the processes again.
        time.sleep(3)
        assert ctl("status", "sleeper")["status"] == "active", f"after restart {restart}"
        after = set(ctl("list", "sleeper")["pids"])
        assert len(after) == 3 and not before & after, (restart, before, after)


SURGE = (
    CIRCUS_HEADER
    + FLAPPING_PLUGIN
    + """
[watcher:web]
cmd = sh -c "test -f {tmp}/release-ok && exec sleep 100000"
numprocesses = 2
"""
)


def test_flapping_leaves_serving_processes_alone_during_a_surge(start_circusd, tmp_path):
    (tmp_path / "release-ok").touch()
    ctl = start_circusd(SURGE)
    wait_for(lambda: len(ctl("list", "web")["pids"]) == 2, 20, "web started")
    old = set(ctl("list", "web")["pids"])
    # Older than the window plus the plugin's 5 s for circusd's checks.
    time.sleep(8)
    # A surge reload to a release whose workers die at once (circus_watcher's incr).
    (tmp_path / "release-ok").unlink()
    ctl("incr", "web", "2")
    time.sleep(15)
    assert ctl("status", "web")["status"] == "active"
    assert old <= set(ctl("list", "web")["pids"])


HTTP_OBSERVER = (
    CIRCUS_HEADER
    + """
[watcher:web]
cmd = {python} -m http.server {port} --bind 127.0.0.1 --directory {site}
graceful_timeout = 2

{health_plugin}
"""
)


def test_http_observer_restarts_a_watcher_whose_url_stops_answering(
    start_circusd, tmp_path, role_sections
):
    site = tmp_path / "site"
    site.mkdir()
    (site / "healthz").write_text("ok")
    port = role_sections["health_port"]
    ini = HTTP_OBSERVER.replace("{python}", sys.executable)
    ini = ini.replace("{port}", str(port)).replace("{site}", str(site))
    ctl = start_circusd(ini)
    wait_for(lambda: ctl("list", "web")["pids"], 20, "web started")
    first = ctl("list", "web")["pids"]
    # Answering: left alone over several checks.
    time.sleep(6)
    assert ctl("list", "web")["pids"] == first
    assert ctl("status", "plugin:web_health")["status"] == "active"
    # A 404 from now on: restarted (a new process) after two failed checks.
    (site / "healthz").unlink()
    wait_for(
        lambda: set(ctl("list", "web")["pids"]) - set(first), 30, "web restarted by the observer"
    )


def test_statsd_receives_circusd_events(start_circusd, role_sections):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", role_sections["statsd_port"]))
        listener.settimeout(1)
        ctl = start_circusd(
            CIRCUS_HEADER
            + """
{statsd_plugin}
[watcher:sleeper]
cmd = sleep 100000
"""
        )
        wait_for(lambda: ctl("status", "plugin:statsd")["status"] == "active", 20, "statsd up")
        time.sleep(2)
        ctl("incr", "sleeper", "--waiting")
        received = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and b"sleeper.spawn" not in b"".join(received):
            with contextlib.suppress(TimeoutError):
                received.append(listener.recv(1024))
    assert b"circus.webstack.watcher.sleeper.spawn:1|c" in received, received


def test_journal_stream_leads_each_line_with_the_watchers_name(start_circusd, tmp_path):
    ctl = start_circusd(
        CIRCUS_HEADER
        + """
[watcher:talker]
cmd = sh -c "printf 'one\\ntwo\\n'; exec sleep 100000"
stdout_stream.class = webstack_circus_plugins.JournalStream
stdout_stream.prefix = talker
"""
    )
    pid = ctl("list", "talker")["pids"][0]
    out = tmp_path / "circusd.out"
    wait_for(lambda: f"talker[{pid}]: two" in out.read_text(), 20, "the lines on circusd's stdout")
    assert f"talker[{pid}]: one\n" in out.read_text()
