"""Every request through the proxy succeeds while the app hosts are reloaded, redeployed
and scaled; with the workers' drain turned off, the same reloads lose requests.

The load is POST /work (0.3 s per request): nginx never retries a POST on the other app
host, so a request that a worker drops reaches the client as an error.
"""

import contextlib
import http.client
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from fleet_hosts import INVENTORY, fleet_host

# The project's tests/: the circus role's paths, read from its defaults.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests"))
import circus_paths

# The bench's load loop: one HTTP load loop for the benchmarks and this test.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "bench"))
from loadlib import Load

# The load and the operations run once, from the controller, not once per host.
testinfra_hosts = ["webstack-fleet-proxy"]

# The module's start: the scenario's converge ran before it, the tests' deploys after it.
STARTED = time.time()
# The proxies' port 80 on the controller: the load goes through the first.
PROXIES = {
    "webstack-fleet-proxy": ("127.0.0.1", 18480),
    "webstack-fleet-proxy2": ("127.0.0.1", 18481),
}
PROXY = PROXIES["webstack-fleet-proxy"]
APP_HOSTS = ("webstack-fleet-app1", "webstack-fleet-app2")
# The django_app role's one call that migrates, moves the workers and checks the app.
MOVE_WORKERS = "Move the workers to the release"
PROJECT = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
# The reload the django_app role runs for new code.
RELOAD_BOTH = (
    "name=demo state=reloaded surge=true ready_dir=/srv/demo/ready "
    f"endpoint={circus_paths.ENDPOINT} circusctl_path={circus_paths.CIRCUSCTL_PATH}"
)
# circusctl on the app hosts, which keep the circus role's defaults.
CIRCUSCTL = circus_paths.circusctl(circus_paths.DEFAULT)


@contextlib.contextmanager
def proxy_load():
    """8 clients sending POST /work through the proxy until the block ends (at most 600 s):
    the bench's load loop (bench/loadlib.py), counting every outcome."""
    with Load(*PROXY, "/work", method="POST", clients=8, limit=600) as load:
        yield load
    print("requests through the proxy:", dict(load.tally))


def ansible(command, *args, succeed=True):
    """Run an ansible command on the scenario's inventory; assert it succeeds, or fails."""
    # Molecule forces colours on; the tests read the output as plain text.
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "build" / "collections"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
    )
    # One stream, in order: failed tasks go to stderr where Molecule's settings say so.
    result = subprocess.run(
        [command, "-i", INVENTORY, *args],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    assert (result.returncode == 0) == succeed, result.stdout[-8000:]
    return result


def ran_on(output, task, outcomes="ok|changed|fatal"):
    """The hosts on which a task ran (not skipped), in every batch of a playbook's output."""
    hosts = []
    for block in output.split("\nTASK [")[1:]:
        if block.split("]", 1)[0].endswith(task):
            hosts += re.findall(rf"^(?:{outcomes}): \[([^\]]+)\]", block, re.MULTILINE)
    return hosts


def failed_on(output, task):
    return ran_on(output, task, outcomes="fatal")


def results_of(output, task):
    """{host: result} of a task in a playbook's output at -v, from every batch."""
    decoder = json.JSONDecoder()
    results = {}
    for block in output.split("\nTASK [")[1:]:
        if block.split("]", 1)[0].endswith(task):
            pattern = r"^(?:ok|changed|fatal): \[([^\]]+)\](?:: FAILED!)? => "
            for match in re.finditer(pattern, block, re.MULTILINE):
                results[match.group(1)] = decoder.raw_decode(block, match.end())[0]
    return results


def migrated_on(output):
    """The hosts on which a deploy at -v ran manage.py migrate (before moving the workers)."""
    return [
        host
        for host, result in results_of(output, MOVE_WORKERS).items()
        if "$ python -m django migrate --noinput" in result.get("output", [])
    ]


def current_release(app):
    """The release the app host's `current` link names."""
    return app.check_output("readlink /srv/demo/current").rsplit("/", 1)[1]


def worker_pids(app):
    """The pids of the web workers circusd runs on the app host."""
    return json.loads(app.check_output(f"{CIRCUSCTL} --json list demo"))["pids"]


def workers(app):
    """How many web workers circusd runs on the app host."""
    return len(worker_pids(app))


def socket_address(app):
    """The app host's address on the fleet's network, where its app's socket listens."""
    return app.check_output("hostname -I").split()[0]


def reload_both_app_hosts():
    ansible("ansible", "app", "-m", "webstack.circus.circus_watcher", "-a", RELOAD_BOTH)


@pytest.fixture(scope="module")
def release_2(tmp_path_factory):
    """The demo with one more line on its page: a code change to roll out."""
    source = tmp_path_factory.mktemp("release") / "demo"
    shutil.copytree(PROJECT / "demo", source, ignore=shutil.ignore_patterns("inventory"))
    page = source / "greetings" / "templates" / "greetings" / "index.html"
    page.write_text(page.read_text().replace("</h1>", "</h1>\n  <p>Release 2.</p>", 1))
    # A module that release 4 deletes: it must be gone from the host too.
    (source / "greetings" / "obsolete.py").write_text("UNUSED = True\n")
    return source


def test_no_request_fails_while_apps_reload_redeploy_and_scale(release_2):
    with proxy_load() as load:
        time.sleep(2)
        for _reload in range(3):
            reload_both_app_hosts()
        # Scaling is a variable change and a re-run: up with the code change, host by
        # host, then down by site.yml on both app hosts at once.
        variables = {"django_app_source": str(release_2), "django_app_numprocesses": 4}
        deployed = ansible("ansible-playbook", "-v", "deploy.yml", "-e", json.dumps(variables))
        # One database for the fleet: migrate ran once, on the first app host.
        assert migrated_on(deployed.stdout) == ["webstack-fleet-app1"]
        assert tuple(sorted(results_of(deployed.stdout, MOVE_WORKERS))) == APP_HOSTS
        assert [workers(fleet_host(name)) for name in APP_HOSTS] == [4, 4]
        variables["django_app_numprocesses"] = 2
        ansible("ansible-playbook", "site.yml", "--limit", "app", "-e", json.dumps(variables))
        time.sleep(2)
    assert load.tally["ok"] > 100
    assert load.failed == 0, dict(load.tally)


# Prints the page at the URL in argv[1] (a minimal host has python3 but no curl).
FETCH = (
    "import sys, urllib.request; "
    "print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
)


def test_every_app_host_serves_release_2_with_2_workers():
    """Asked on each app host's own socket: through the proxy, one host would do."""
    for name in APP_HOSTS:
        app = fleet_host(name)
        assert workers(app) == 2
        address = socket_address(app)
        for _request in range(4):
            page = app.check_output("python3 -c %s %s", FETCH, f"http://{address}:8000/")
            assert "Release 2." in page, name


def test_a_row_written_through_app1_is_read_through_app2():
    """One database for the fleet: a greeting saved by a management command on app1 is
    the latest on the page app2's own socket serves."""
    text = f"saved on app1 at {time.time():.6f}"
    code = f"from greetings.models import Greeting; Greeting.objects.create(text={text!r})"
    variables = {"manage": ["shell"], "manage_stdin": code}
    ansible(
        "ansible-playbook",
        "webstack.circus.manage",
        "--limit",
        "webstack-fleet-app1",
        "-e",
        json.dumps(variables),
    )
    app2 = fleet_host("webstack-fleet-app2")
    address = socket_address(app2)
    page = app2.check_output("python3 -c %s %s", FETCH, f"http://{address}:8000/")
    assert f'<q id="latest">{text}</q>' in page


# Connects to the app's socket on the host named in argv[1].
CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], 8000), timeout=5).close()"


def test_each_app_host_carries_its_static_files_under_a_name_of_its_own():
    """Each app host's static files reach the proxy through the controller, under a name
    of the host's own: the app hosts fetch at once, and one name for all lost a host's copy
    to the other's (a checksum mismatch, or the docker connection's rename of a file that
    another host's rename had taken). The controller removes its copy once the proxy has
    it: the archive cache does not grow by one file per app host and release. Files older
    than this module are from earlier runs."""
    defaults = yaml.safe_load(
        (PROJECT / "roles" / "django_app" / "defaults" / "main.yml").read_text()
    )
    archives = pathlib.Path(defaults["django_app_archive_dir"]).expanduser()
    for name in APP_HOSTS:
        app = fleet_host(name)
        release = current_release(app)
        carried = f"static-{release}-{name}.tar.gz"
        assert app.file(f"/srv/demo/releases/{release}/{carried}").is_file, carried
        left = [
            path.name
            for path in archives.glob(f"static-{release}-*")
            if path.stat().st_mtime >= STARTED
        ]
        assert left == [], left


def test_each_proxy_balances_over_both_app_hosts():
    """Both proxies send requests to both app hosts, which answer with release 2."""
    hosts = {fleet_host(name).check_output("hostname") for name in APP_HOSTS}
    for proxy in PROXIES.values():
        connection = http.client.HTTPConnection(*proxy, timeout=10)
        answered = set()
        for _request in range(8):
            connection.request("GET", "/version")
            answered.add(json.loads(connection.getresponse().read())["host"])
        assert answered == hosts, proxy


def test_only_the_proxies_reach_the_app_sockets():
    db = fleet_host("webstack-fleet-db")
    for name in APP_HOSTS:
        app = fleet_host(name)
        address = socket_address(app)
        listening = app.check_output("ss -Htln 'sport = :8000'")
        assert f"{address}:8000" in listening and "0.0.0.0:8000" not in listening, listening
        for proxy in PROXIES:
            assert fleet_host(proxy).run("python3 -c %s %s", CONNECT, name).rc == 0, proxy
        refused = db.run("python3 -c %s %s", CONNECT, name)
        assert refused.rc != 0 and "ConnectionRefusedError" in refused.stderr, refused.stderr


@pytest.fixture(scope="module")
def release_3_unhealthy(release_2, tmp_path_factory):
    """Release 2 with a new line on its page and a health check that answers 503."""
    source = tmp_path_factory.mktemp("release") / "demo"
    shutil.copytree(release_2, source)
    page = source / "greetings" / "templates" / "greetings" / "index.html"
    page.write_text(page.read_text().replace("Release 2.", "Release 3."))
    views = source / "greetings" / "views.py"
    healthy = 'return HttpResponse("ok\\n", content_type="text/plain")'
    assert healthy in views.read_text()
    views.write_text(views.read_text().replace(healthy, 'return HttpResponse("no", status=503)'))
    return source


def proxy_sites():
    """The demo's site on each proxy."""
    return [
        fleet_host(name).file("/etc/nginx/sites-available/demo.conf").content_string
        for name in PROXIES
    ]


def test_a_failed_health_check_stops_the_rollout_with_the_host_out_of_the_proxy(
    release_2, release_3_unhealthy
):
    with proxy_load() as load:
        time.sleep(2)
        failed = ansible(
            "ansible-playbook",
            "deploy.yml",
            "-e",
            json.dumps(
                {"django_app_source": str(release_3_unhealthy), "django_app_health_retries": 3}
            ),
            succeed=False,
        )
        assert failed_on(failed.stdout, MOVE_WORKERS) == ["webstack-fleet-app1"]
        assert "did not answer 200 in 3 tries" in failed.stdout
        # app1, the first batch, runs release 3 but is out of both proxies; app2 was not
        # reached and serves every request with release 2.
        for site in proxy_sites():
            assert "server webstack-fleet-app1:8000 max_fails=3 fail_timeout=10s down;" in site
        for proxy in PROXIES.values():
            for page in proxy_pages(proxy=proxy):
                assert "Release 2." in page and "Release 3." not in page
        # The fixed release rolls out and puts app1 back.
        ansible("ansible-playbook", "deploy.yml", "-e", f"django_app_source={release_2}")
        time.sleep(2)
    assert all(" down;" not in site for site in proxy_sites())
    assert load.tally["ok"] > 50
    assert load.failed == 0, dict(load.tally)


MIGRATION = """from django.db import migrations


def forwards(apps, schema_editor):
    {body}


class Migration(migrations.Migration):
    dependencies = [("greetings", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
"""


def release_4(release_2, tmp_path_factory, body):
    """Release 2 with a new line on its page, a migration running `body`, and
    greetings/obsolete.py deleted."""
    source = tmp_path_factory.mktemp("release") / "demo"
    shutil.copytree(release_2, source)
    page = source / "greetings" / "templates" / "greetings" / "index.html"
    page.write_text(page.read_text().replace("Release 2.", "Release 4."))
    (source / "greetings" / "migrations" / "0002_release_4.py").write_text(
        MIGRATION.format(body=body)
    )
    (source / "greetings" / "obsolete.py").unlink()
    stylesheet = source / "greetings" / "static" / "greetings" / "site.css"
    stylesheet.write_text(stylesheet.read_text() + "\n/* release 4 */\n")
    return source


@pytest.fixture(scope="module")
def release_4_broken(release_2, tmp_path_factory):
    return release_4(release_2, tmp_path_factory, 'raise RuntimeError("broken migration")')


@pytest.fixture(scope="module")
def release_4_fixed(release_2, tmp_path_factory):
    return release_4(release_2, tmp_path_factory, "del apps, schema_editor")


def proxy_pages(count=6, proxy=PROXY):
    connection = http.client.HTTPConnection(*proxy, timeout=10)
    pages = []
    for _request in range(count):
        connection.request("GET", "/")
        pages.append(connection.getresponse().read().decode())
    return pages


def stylesheet():
    """The hashed name of the stylesheet the page through the proxy links."""
    connection = http.client.HTTPConnection(*PROXY, timeout=10)
    connection.request("GET", "/")
    return re.search(
        r'href="(/static/greetings/site\.[0-9a-f]{12}\.css)"',
        connection.getresponse().read().decode(),
    )[1]


def proxy_status(path, proxy=PROXY):
    connection = http.client.HTTPConnection(*proxy, timeout=10)
    connection.request("GET", path)
    return connection.getresponse().status


def served_releases(app):
    """(current release, {circus pid: directory it runs in}, {(release, pid)} answered by
    /version on the host's socket)."""
    current = current_release(app)
    pids = worker_pids(app)
    # Another user's /proc/PID/cwd is readable only with ptrace rights the container lacks.
    cwds = {
        pid: app.check_output("runuser -u demo -- readlink /proc/%s/cwd", str(pid)) for pid in pids
    }
    # The socket is bound to the host's private address, not to the loopback.
    address = socket_address(app)
    answered = set()
    for _request in range(12):
        version = json.loads(
            app.check_output(
                "python3 -c %s %s",
                "import sys, urllib.request; print(urllib.request.urlopen("
                "f'http://{sys.argv[1]}:8000/version', timeout=10).read().decode())",
                address,
            )
        )
        answered.add((version["release"], version["pid"]))
    return current, cwds, answered


def test_a_broken_migration_stops_the_rollout_and_the_fixed_release_replaces_every_worker(
    release_4_broken, release_4_fixed
):
    before = {name: served_releases(fleet_host(name))[0] for name in APP_HOSTS}
    old_stylesheet = stylesheet()
    with proxy_load() as load:
        time.sleep(2)
        failed = ansible(
            "ansible-playbook",
            "deploy.yml",
            "-e",
            f"django_app_source={release_4_broken}",
            succeed=False,
        )
        # The failure is on app1's migrate, in the first batch, before its workers moved,
        # and says why (no secret is on its command line or in its arguments).
        assert failed_on(failed.stdout, MOVE_WORKERS) == ["webstack-fleet-app1"]
        assert "before the workers moved" in failed.stdout
        assert "RuntimeError: broken migration" in failed.stdout
        # app1 failed before it switched: both hosts serve release 2 only.
        assert all("Release 2." in page and "Release 4." not in page for page in proxy_pages())
        assert {name: served_releases(fleet_host(name))[0] for name in APP_HOSTS} == before
        fixed = ansible(
            "ansible-playbook", "-v", "deploy.yml", "-e", f"django_app_source={release_4_fixed}"
        )
        assert migrated_on(fixed.stdout) == ["webstack-fleet-app1"]
        time.sleep(2)
    assert load.tally["ok"] > 50
    assert load.failed == 0, dict(load.tally)
    assert all("Release 4." in page for page in proxy_pages())
    # Each proxy serves the static files of both releases: pages of the old one, still
    # served by a host not yet reached during a rollout, find theirs.
    new_stylesheet = stylesheet()
    assert new_stylesheet != old_stylesheet
    for proxy in PROXIES.values():
        statuses = (proxy_status(old_stylesheet, proxy), proxy_status(new_stylesheet, proxy))
        assert statuses == (200, 200), proxy
    for name in APP_HOSTS:
        app = fleet_host(name)
        current, cwds, answered = served_releases(app)
        assert current != before[name]
        # Every Circus process runs in the new release; every answer comes from one of them.
        assert set(cwds.values()) == {f"/srv/demo/releases/{current}/app"}, name
        assert {release for release, _pid in answered} == {current}
        assert {pid for _release, pid in answered} <= set(cwds)
        state = json.loads(app.file("/srv/demo/deploy-state.json").content_string)
        assert state["loaded"].startswith(current + "+")
        # The deleted module is gone from the release in use, and still in the one before.
        assert not app.file("/srv/demo/current/app/greetings/obsolete.py").exists
        assert app.file(f"/srv/demo/releases/{before[name]}/app/greetings/obsolete.py").exists


def test_rollback_refuses_to_strand_a_migration_then_goes_back_under_load():
    before = {name: served_releases(fleet_host(name))[0] for name in APP_HOSTS}
    refused = ansible("ansible-playbook", "rollback.yml", succeed=False)
    assert "greetings/migrations/0002_release_4" in refused.stdout
    assert "rollback_past_migrations=true" in refused.stdout
    assert {name: served_releases(fleet_host(name))[0] for name in APP_HOSTS} == before
    with proxy_load() as load:
        time.sleep(2)
        ansible("ansible-playbook", "rollback.yml", "-e", "rollback_past_migrations=true")
        time.sleep(2)
    assert load.tally["ok"] > 50
    assert load.failed == 0, dict(load.tally)
    assert all("Release 2." in page and "Release 4." not in page for page in proxy_pages())
    for name in APP_HOSTS:
        current, cwds, answered = served_releases(fleet_host(name))
        assert current != before[name]
        assert set(cwds.values()) == {f"/srv/demo/releases/{current}/app"}, name
        assert {release for release, _pid in answered} == {current}


def test_without_drain_the_same_reloads_lose_requests():
    """The control: the tests above can fail. Only Chaussette (app1) has a drain to turn
    off; uvicorn (app2) drains by itself."""
    # The last test: a destroy follows, nothing turns the drain back on (run site.yml
    # before running the tests again).
    ansible("ansible-playbook", "site.yml", "--limit", "app", "-e", '{"django_app_drain": false}')
    with proxy_load() as load:
        time.sleep(2)
        for _reload in range(3):
            reload_both_app_hosts()
        time.sleep(2)
    assert load.failed > 0, dict(load.tally)
