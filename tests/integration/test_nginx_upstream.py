"""webstack.circus.nginx_upstream, run in a process of its own with the arguments Ansible
passes, on the sites the nginx_proxy role wrote, checked (nginx -t) and reloaded by a real
nginx: a drained server gets no new request and comes back when enabled, a refused
configuration is put back, and the role's next run keeps what the module drained."""

import json
import subprocess
import sys
import time

import pytest
from nginx_harness import backend, get, nginx_root, serving

from conftest import HERE, ansible_env

MODULE = HERE.parents[1] / "plugins/modules/nginx_upstream.py"


@pytest.fixture
def root():
    with nginx_root() as path:
        yield path


def configured(root, **variables):
    result = root.configure(**variables)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def nginx_upstream(root, servers, state, check_mode=False, diff=False):
    """Run the module in its own process, with the arguments and flags Ansible would pass,
    against the root's sites and nginx; return its result."""
    conf = ["-c", str(root.conf)]
    args = {
        "servers": servers,
        "state": state,
        "path": str(root.available),
        "validate": ["nginx", "-t", "-q", *conf],
        "reload_command": ["nginx", "-s", "reload", *conf],
        "_ansible_check_mode": check_mode,
        "_ansible_diff": diff,
    }
    run = subprocess.run(
        [sys.executable, str(MODULE), json.dumps({"ANSIBLE_MODULE_ARGS": args})],
        capture_output=True,
        text=True,
        env=ansible_env(),
        check=False,
    )
    result = json.loads(run.stdout)
    assert result.get("failed", False) == (run.returncode != 0), run.stdout + run.stderr
    return result


def answering(port, count=6):
    """The apps that answered `count` requests through nginx."""
    return {get(port, "/").json()["app"] for request in range(count)}


def wait_for(condition, seconds=5):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "nginx did not apply the reload"
        time.sleep(0.2)


def without_invocation(result):
    return {key: value for key, value in result.items() if key not in ("invocation", "diff")}


def test_a_drained_host_takes_no_request_until_it_is_enabled(root):
    with backend("app1") as app1, backend("app2") as app2:
        configured(
            root, nginx_proxy_sites=[{"name": "shop", "upstreams": [app1.upstream, app2.upstream]}]
        )
        site = root.available / "shop.conf"
        with serving(root):
            assert answering(root.http_port) == {"app1", "app2"}

            before = site.read_text()
            predicted = nginx_upstream(root, [app1.upstream], "drained", check_mode=True, diff=True)
            assert predicted["changed"] is True
            assert site.read_text() == before
            assert predicted["diff"][0]["before"] == before

            drained = nginx_upstream(root, [app1.upstream], "drained", diff=True)
            assert without_invocation(drained) == without_invocation(predicted)
            assert drained["diff"] == predicted["diff"]
            assert drained["diff"][0]["after"] == site.read_text()
            assert f"server {app1.upstream} max_fails=3 fail_timeout=10s down;" in site.read_text()
            assert root.check().returncode == 0
            wait_for(lambda: answering(root.http_port) == {"app2"})

            again = nginx_upstream(root, [app1.upstream], "drained", check_mode=True)
            assert (again["changed"], again["sites"]) == (False, [])
            assert nginx_upstream(root, [app1.upstream], "drained")["changed"] is False

            # The last server up stays up.
            result = nginx_upstream(root, [app2.upstream], "drained")
            assert (result["changed"], result["kept"]) == (
                False,
                [f"webstack_shop {app2.upstream}"],
            )
            servers = result["upstreams"]["webstack_shop"]["servers"]
            assert [server["down"] for server in servers] == [True, False]

            # A host named otherwise in the upstreams fails before any file changes.
            unknown = nginx_upstream(root, ["webstack-app1"], "enabled")
            assert unknown["failed"] is True
            assert "names webstack-app1: nothing was changed" in unknown["msg"]
            assert site.read_text() == drained["diff"][0]["after"]

            enabled = nginx_upstream(root, ["127.0.0.1"], "enabled")
            assert enabled["changed"] is True
            assert site.read_text() == before
            wait_for(lambda: answering(root.http_port) == {"app1", "app2"})


def test_a_configuration_nginx_refuses_is_put_back(root):
    with backend("app1") as app1, backend("app2") as app2:
        configured(
            root, nginx_proxy_sites=[{"name": "shop", "upstreams": [app1.upstream, app2.upstream]}]
        )
        before = (root.available / "shop.conf").read_text()
        (root.etc / "conf.d" / "broken.conf").write_text("not_a_directive on;\n")
        result = nginx_upstream(root, [app1.upstream], "drained")
        assert result["failed"] is True
        assert "nginx refused the marked sites" in result["msg"]
        assert "not_a_directive" in result["msg"]
        assert "put back as they were" in result["msg"]
        assert (root.available / "shop.conf").read_text() == before
        assert sorted(path.name for path in root.available.iterdir()) == ["default", "shop.conf"]


def test_the_role_keeps_a_drained_host_drained_and_drops_a_removed_one(root):
    with backend("app1") as app1, backend("app2") as app2, backend("app3") as app3:
        both = [{"name": "shop", "upstreams": [app1.upstream, app2.upstream]}]
        configured(root, nginx_proxy_sites=both)
        site = root.available / "shop.conf"
        with serving(root):
            assert nginx_upstream(root, [app1.upstream], "drained")["changed"] is True
        drained = site.read_text()

        # site.yml again: the role renders the same site and leaves app1 out.
        rerun = configured(root, nginx_proxy_sites=both)
        assert "changed=0" in rerun.stdout, rerun.stdout
        assert site.read_text() == drained
        with serving(root):
            assert answering(root.http_port) == {"app2"}

        # A new host joins up, the drained one stays down.
        three = [{"name": "shop", "upstreams": [app1.upstream, app2.upstream, app3.upstream]}]
        configured(root, nginx_proxy_sites=three)
        text = site.read_text()
        assert f"server {app1.upstream} max_fails=3 fail_timeout=10s down;" in text
        assert f"server {app3.upstream} max_fails=3 fail_timeout=10s;" in text
        with serving(root):
            wait_for(lambda: answering(root.http_port, 9) == {"app2", "app3"})

        # The drained host leaves the inventory: its line goes.
        configured(
            root, nginx_proxy_sites=[{"name": "shop", "upstreams": [app2.upstream, app3.upstream]}]
        )
        assert app1.upstream not in site.read_text()
        assert "down" not in site.read_text()

        # Back in the inventory, it comes back up: its mark went with its line.
        configured(root, nginx_proxy_sites=three)
        assert "down" not in site.read_text()


def test_the_role_marks_no_server_down_when_none_would_be_left_up(root):
    with backend("app1") as app1, backend("app2") as app2:
        both = [{"name": "shop", "upstreams": [app1.upstream, app2.upstream]}]
        configured(root, nginx_proxy_sites=both)
        with serving(root):
            assert nginx_upstream(root, [app1.upstream], "drained")["changed"] is True
        configured(root, nginx_proxy_sites=[{"name": "shop", "upstreams": [app1.upstream]}])
        assert "down" not in (root.available / "shop.conf").read_text()
        with serving(root):
            assert answering(root.http_port) == {"app1"}
