"""Two apps on one host (converge.yml): the demo from the inventory and the shop from
vars/shop.yml, each with its socket, watcher and nginx site, changed without touching the other."""

import json

import yaml
from apps_helpers import SCENARIO, http_get, process, watcher_pids
from helpers import run_playbook


def answering_pid(host, host_header):
    answer = http_get(host, "/version", host_header)
    assert answer["status"] == 200, answer
    return json.loads(answer["body"])["pid"]


def test_each_app_answers_through_nginx_for_its_host_names(host):
    # The demo's site is the default server; the shop's answers only shop.example.
    assert answering_pid(host, "shop.example") in watcher_pids(host, "shop")
    assert answering_pid(host, "anything.example") in watcher_pids(host, "demo")
    assert answering_pid(host, "localhost") in watcher_pids(host, "demo")


def test_the_shop_runs_from_its_project_below_the_source_s_root(host):
    """vars/shop.yml: manage.py in site/, the requirements file at the root. The workers
    run there, the static files collected there are served, and manage.py runs there."""
    for pid in watcher_pids(host, "shop"):
        cwd = process(host, pid, "shop")["cwd"]
        assert cwd.startswith("/srv/shop/releases/") and cwd.endswith("/app/site"), cwd
    answer = http_get(host, "/static/admin/css/base.css", "shop.example")
    assert answer["status"] == 200, answer
    result = run_playbook(
        host,
        "webstack.circus.manage",
        "-e",
        "manage='showmigrations --list'",
        "-e",
        "@" + str(SCENARIO / "vars" / "shop.yml"),
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "greetings" in result.stdout


def test_the_apps_have_their_own_users_and_homes(host):
    for app in ("demo", "shop"):
        assert host.user(app).home == f"/srv/{app}"
        for pid in watcher_pids(host, app):
            assert host.check_output(f"ps -o user:32= -p {pid}").strip() == app


def test_scaling_and_a_new_release_of_the_shop_leave_the_demo_alone(host, tmp_path):
    demo_before = watcher_pids(host, "demo") + watcher_pids(host, "demo-celery")
    shop_before = watcher_pids(host, "shop")
    shop = yaml.safe_load((SCENARIO / "vars" / "shop.yml").read_text())
    assert shop["django_app_numprocesses"] == 1
    shop["django_app_numprocesses"] = 2
    shop["django_app_env"] = dict(shop["django_app_env"], SHOP_MARK="second")
    changed = tmp_path / "shop.yml"
    changed.write_text(yaml.safe_dump(shop))

    result = run_playbook(host, SCENARIO / "converge.yml", "-e", f"webstack_shop_vars={changed}")
    assert result.returncode == 0, result.stdout

    shop_after = watcher_pids(host, "shop")
    assert len(shop_after) == 2
    # Reloaded onto the new environment: only new workers, each with the new value.
    assert set(shop_after).isdisjoint(shop_before)
    for pid in shop_after:
        assert process(host, pid, "shop")["environ"].get("SHOP_MARK") == "second"
    assert answering_pid(host, "shop.example") in shop_after
    assert watcher_pids(host, "demo") + watcher_pids(host, "demo-celery") == demo_before
