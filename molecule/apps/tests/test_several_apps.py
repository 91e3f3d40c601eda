"""Two apps on one host (converge.yml): the demo from the inventory and the shop from
vars/shop.yml, each with its socket, watcher and nginx site, changed without touching the other."""

import json
import re

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
        "manage=diffsettings",
        "-e",
        "@" + str(SCENARIO / "vars" / "shop.yml"),
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "greetings" in result.stdout
    # Its configuration file (django_app_config_files), root's, linked into the release.
    assert "SHOP_BANNER = 'first'" in result.stdout
    config = host.file("/srv/shop/config/site/mysite/local_settings.py")
    assert (config.user, config.group, config.mode) == ("root", "shop", 0o640)
    link = host.file("/srv/shop/current/app/site/mysite/local_settings.py")
    assert link.linked_to == "/srv/shop/config/site/mysite/local_settings.py"


def shop_release(host):
    return host.check_output("readlink /srv/shop/current").rsplit("/", 1)[1]


def test_the_shop_s_own_static_root_and_build_step_are_served(host):
    """Its settings put STATIC_ROOT in site/staticfiles, with a manifest: collected there,
    linked as the release's static/, read by the workers and published by nginx, with
    the file its build command wrote into the code before collectstatic."""
    release = f"/srv/shop/releases/{shop_release(host)}"
    assert host.file(f"{release}/static").linked_to == f"{release}/app/site/staticfiles"
    assert host.file(f"{release}/app/site/staticfiles/staticfiles.json").exists
    built = http_get(host, "/static/greetings/built.txt", "shop.example")
    assert built == {"status": 200, "body": "built"}, built
    assert host.file(f"{release}/app/site/greetings/static/greetings/built.txt").user == "root"
    # The admin's page names its styles through the manifest: a worker without it
    # answers 500; each hashed name it links is served.
    login = http_get(host, "/admin/login/", "shop.example")
    assert login["status"] == 200, login
    styles = re.findall(r'href="(/static/admin/css/[^"]+)"', login["body"])
    assert styles and all(re.search(r"\.[0-9a-f]{12}\.css$", path) for path in styles), styles
    for path in styles:
        assert http_get(host, path, "shop.example")["status"] == 200, path


def test_the_shop_s_deploy_commands_ran_once_and_its_own_pin_won(host):
    # One move (converge; the idempotence run moved nothing): one line, the release.
    log = host.file("/srv/shop/data/deploys.log").content_string.split()
    assert log == [shop_release(host)]
    # vars/shop.yml asks for sqlparse<0.6; its requirements file pins 0.6.1, which won.
    version = host.check_output(
        "/srv/shop/current/venv/bin/python -c 'import sqlparse; print(sqlparse.__version__)'"
    )
    assert version == "0.6.1"


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
    # The workers moved: the deploy commands ran again, their output shown, the secret
    # key masked.
    log = host.file("/srv/shop/data/deploys.log").content_string.split()
    assert log == [shop_release(host)] * 2
    assert "$ python manage.py remove_stale_contenttypes --noinput" in result.stdout
    assert "key=********" in result.stdout
    assert shop["django_app_secret_env"]["DJANGO_SECRET_KEY"] not in result.stdout


def test_a_changed_configuration_file_moves_the_shop_s_workers(host, tmp_path):
    """After the test above: only the file's content changes."""
    shop = yaml.safe_load((SCENARIO / "vars" / "shop.yml").read_text())
    shop["django_app_numprocesses"] = 2
    shop["django_app_env"] = dict(shop["django_app_env"], SHOP_MARK="second")
    shop["django_app_config_files"] = {"site/mysite/local_settings.py": 'SHOP_BANNER = "second"\n'}
    changed = tmp_path / "shop.yml"
    changed.write_text(yaml.safe_dump(shop))
    before = watcher_pids(host, "shop")
    result = run_playbook(host, SCENARIO / "converge.yml", "-e", f"webstack_shop_vars={changed}")
    assert result.returncode == 0, result.stdout
    assert set(watcher_pids(host, "shop")).isdisjoint(before)
    config = "/srv/shop/config/site/mysite/local_settings.py"
    assert host.file(config).content_string == 'SHOP_BANNER = "second"\n'
    # Never shown.
    assert "SHOP_BANNER" not in result.stdout
    assert (
        host.file("/srv/shop/data/deploys.log").content_string.split() == [shop_release(host)] * 3
    )
