"""A release whose workers never get ready: the deploy fails, the old workers keep
serving, and `current` stays on their release, so that the workers Circus starts
afterwards (a killed worker's replacement, all of them after a circusd restart) start it
too. Then a good release deploys and is rolled back: deploy.yml and rollback.yml on the
layout `make demo` builds (one host that is app and proxy, its upstream 127.0.0.1)."""

import json
import os
import pathlib
import shutil

from helpers import circusctl, http_get, run_playbook
from test_faults import wait_until, worker_pids

PROJECT = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])


def demo_copy(tmp_path_factory, name):
    source = tmp_path_factory.mktemp(name) / "demo"
    shutil.copytree(PROJECT / "demo", source, ignore=shutil.ignore_patterns("inventory"))
    return source


def current_release(host):
    return host.check_output("readlink /srv/demo/current").rsplit("/", 1)[1]


def served_releases(host):
    """The releases that answer /version through nginx, over a dozen requests."""
    return {json.loads(http_get(host, "/version")["body"])["release"] for _request in range(12)}


def test_a_release_that_never_gets_ready_leaves_every_worker_on_the_loaded_one(
    bookworm, tmp_path_factory
):
    host = bookworm
    loaded = current_release(host)
    assert served_releases(host) == {loaded}
    hanging = demo_copy(tmp_path_factory, "hanging")
    wsgi = hanging / "mysite" / "wsgi.py"
    wsgi.write_text(wsgi.read_text() + "\nimport time\n\ntime.sleep(3600)\n")

    failed = run_playbook(
        host,
        "deploy.yml",
        "-e",
        json.dumps({"django_app_source": str(hanging), "django_app_ready_timeout": 10}),
    )
    assert failed.returncode != 0, failed.stdout[-3000:]
    assert (
        "Move the workers to the release"
        in failed.stdout.split("fatal: ")[0].rsplit("TASK [", 1)[1]
    )
    assert current_release(host) == loaded
    assert served_releases(host) == {loaded}

    pids = worker_pids(host)
    host.run_expect([0], f"kill -KILL {pids[0]}")
    wait_until(
        lambda: len(worker_pids(host)) == 2 and pids[0] not in worker_pids(host),
        30,
        "Circus replaced the killed worker",
    )
    wait_until(lambda: served_releases(host) == {loaded}, 30, f"every answer from {loaded}")
    host.run_expect([0], "systemctl restart circusd")
    wait_until(lambda: len(worker_pids(host)) == 2, 60, "circusd runs two workers again")
    wait_until(lambda: served_releases(host) == {loaded}, 60, f"every answer from {loaded}")

    good = demo_copy(tmp_path_factory, "good")
    page = good / "greetings" / "templates" / "greetings" / "index.html"
    page.write_text(page.read_text().replace("</h1>", "</h1>\n  <p>A good release.</p>", 1))
    deployed = run_playbook(host, "deploy.yml", "-e", f"django_app_source={good}")
    assert deployed.returncode == 0, deployed.stdout[-3000:]
    assert current_release(host) != loaded
    assert served_releases(host) == {current_release(host)}
    assert "A good release." in http_get(host, "/")["body"]
    # Back to the inventory's release, which the tests after these find.
    rolled_back = run_playbook(host, "rollback.yml")
    assert rolled_back.returncode == 0, rolled_back.stdout[-3000:]
    assert current_release(host) == loaded
    assert served_releases(host) == {loaded}
    assert len(json.loads(host.check_output(f"{circusctl(host)} --json list demo"))["pids"]) == 2
