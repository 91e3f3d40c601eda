"""The demo's Celery worker (django_app_watchers in group_vars/app.yml) runs beside its web
workers, in their release, and moves with them."""

import json

import pytest
from apps_helpers import http_get, process, watcher_pids
from helpers import run_playbook

CELERY_LOG = "/var/log/circus/demo-celery.stderr.log"


def current_release(host):
    return host.file("/srv/demo/current").linked_to


def test_a_view_gets_the_result_of_a_celery_task_through_nginx(host):
    answer = http_get(host, "/celery/add?a=2&b=3")
    assert answer["status"] == 200, answer
    assert json.loads(answer["body"])["result"] == 5


def test_the_worker_runs_as_the_app_in_its_current_release(host):
    pids = watcher_pids(host, "demo-celery")
    assert len(pids) == 1
    for pid in pids:
        assert host.check_output(f"ps -o user:32= -p {pid}").strip() == "demo"
        assert process(host, pid, "demo")["cwd"] == current_release(host) + "/app"
        assert "/venv/bin/celery -A mysite worker" in host.check_output(f"ps -o args= -p {pid}")
    # Its output goes to its own log file (rotated already if test_logs ran first).
    assert "ready." in host.check_output(f"zcat -f {CELERY_LOG}*")


@pytest.fixture
def demo_changed(host, tmp_path):
    """The demo deployed by site.yml with a changed environment and two Celery workers;
    the pids of the demo's workers and the shop's before that run."""
    variables = host.ansible.get_variables()
    before = {name: watcher_pids(host, name) for name in ("demo", "demo-celery", "shop")}
    changed = tmp_path / "demo.json"
    changed.write_text(
        json.dumps(
            {
                "django_app_env": dict(variables["django_app_env"], DEMO_MARK="second"),
                "django_app_watchers": [
                    dict(variables["django_app_watchers"][0], numprocesses=2),
                ],
            }
        )
    )
    result = run_playbook(host, "site.yml", "-e", f"@{changed}")
    assert result.returncode == 0, result.stdout
    return before


def test_a_new_release_moves_and_scales_the_worker_and_leaves_the_shop_alone(host, demo_changed):
    after = watcher_pids(host, "demo-celery")
    assert len(after) == 2
    # Every worker was started anew, with the new environment, in the current release.
    assert set(after).isdisjoint(demo_changed["demo-celery"])
    for pid in after:
        worker = process(host, pid, "demo")
        assert worker["environ"].get("DEMO_MARK") == "second"
        assert worker["cwd"] == current_release(host) + "/app"
    assert set(watcher_pids(host, "demo")).isdisjoint(demo_changed["demo"])
    assert watcher_pids(host, "shop") == demo_changed["shop"]
    answer = http_get(host, "/celery/add?a=20&b=22")
    assert json.loads(answer["body"])["result"] == 42, answer
