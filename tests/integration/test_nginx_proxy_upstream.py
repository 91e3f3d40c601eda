"""The upstream marker deploy.yml runs on the proxies, on a site the nginx_proxy role
wrote, checked (nginx -t) and reloaded by a real nginx: a host marked down gets no new
request, and comes back when marked up."""

import importlib.util
import json
import time

import pytest
from nginx_harness import backend, get, nginx_root, serving

from conftest import HERE

SCRIPT = HERE.parents[1] / "roles/nginx_proxy/files/nginx_proxy_upstream.py"


@pytest.fixture
def marker():
    spec = importlib.util.spec_from_file_location("nginx_proxy_upstream", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answering(port, count=6):
    """The apps that answered `count` requests through nginx."""
    return {get(port, "/").json()["app"] for request in range(count)}


def test_a_host_marked_down_takes_no_request_until_it_is_marked_up(marker, monkeypatch, capsys):
    with nginx_root() as root, backend("app1") as app1, backend("app2") as app2:
        sites = [{"name": "shop", "upstreams": [app1.upstream, app2.upstream]}]
        result = root.configure(nginx_proxy_sites=sites)
        assert result.returncode == 0, result.stdout + result.stderr
        conf = ["-c", str(root.conf)]
        monkeypatch.setattr(marker, "SITES", str(root.available / "*.conf"))
        monkeypatch.setattr(marker, "CHECK", ["nginx", "-t", "-q", *conf])
        monkeypatch.setattr(marker, "RELOAD", ["nginx", "-s", "reload", *conf])
        with serving(root):
            assert answering(root.http_port) == {"app1", "app2"}

            marker.main(["down", app1.upstream])
            assert json.loads(capsys.readouterr().out)["changed"] is True
            assert root.check().returncode == 0
            assert "down;" in (root.available / "shop.conf").read_text()
            wait_for(lambda: answering(root.http_port) == {"app2"})

            marker.main(["up", app1.upstream])
            assert json.loads(capsys.readouterr().out)["changed"] is True
            wait_for(lambda: answering(root.http_port) == {"app1", "app2"})


def test_an_app_host_named_otherwise_in_the_upstreams_fails_the_batch(marker, monkeypatch):
    with nginx_root() as root, backend("app1") as app1:
        sites = [{"name": "shop", "upstreams": [app1.upstream]}]
        result = root.configure(nginx_proxy_sites=sites)
        assert result.returncode == 0, result.stdout + result.stderr
        before = (root.available / "shop.conf").read_text()
        monkeypatch.setattr(marker, "SITES", str(root.available / "*.conf"))
        with pytest.raises(SystemExit) as exit_:
            marker.main(["down", "webstack-app1"])
        assert "webstack-app1" in str(exit_.value.code)
        assert (root.available / "shop.conf").read_text() == before


def wait_for(condition, seconds=5):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "nginx did not apply the reload"
        time.sleep(0.2)
