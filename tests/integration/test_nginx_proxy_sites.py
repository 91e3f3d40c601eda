"""The nginx_proxy role's sites, written by its own tasks and served by a real nginx
(nginx_harness.py): what reaches the apps, what nginx serves itself, and a configuration
that stays valid at every step."""

import http.client

import pytest
from nginx_harness import backend, get, nginx_root, serving


@pytest.fixture
def root():
    with nginx_root() as path:
        yield path


@pytest.fixture
def app():
    with backend("shop") as server:
        yield server


def configured(root, *args, **variables):
    result = root.configure(*args, **variables)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_site_without_server_names_is_the_default_and_a_rerun_changes_nothing(root, app):
    sites = [{"name": "shop", "upstreams": [app.upstream]}]
    configured(root, nginx_proxy_sites=sites)
    assert sorted(path.name for path in root.enabled.iterdir()) == ["shop.conf"]
    with serving(root):
        assert get(root.http_port, "/", host="anything.example").json()["app"] == "shop"
    assert "changed=0" in configured(root, nginx_proxy_sites=sites).stdout


def test_unknown_host_is_closed_unanswered_when_no_site_is_the_default(root, app):
    sites = [{"name": "shop", "upstreams": [app.upstream], "server_names": ["shop.example"]}]
    configured(root, nginx_proxy_sites=sites)
    with serving(root):
        assert get(root.http_port, "/", host="shop.example").json()["app"] == "shop"
        with pytest.raises(http.client.RemoteDisconnected):
            get(root.http_port, "/", host="other.example")


def test_the_catch_all_gives_way_to_a_site_that_becomes_the_default(root, app):
    named = [{"name": "shop", "upstreams": [app.upstream], "server_names": ["shop.example"]}]
    configured(root, nginx_proxy_sites=named)
    configured(root, nginx_proxy_sites=[{"name": "shop", "upstreams": [app.upstream]}])
    assert sorted(path.name for path in root.enabled.iterdir()) == ["shop.conf"]
    with serving(root):
        assert get(root.http_port, "/", host="other.example").json()["app"] == "shop"


def test_a_site_that_clashes_with_an_enabled_file_is_refused_before_it_is_written(root, app):
    # Valid alone, but another file already holds the port's default server.
    (root.enabled / "theirs.conf").write_text(
        f"server {{ listen {root.http_port} default_server; return 204; }}\n"
    )
    result = root.configure(nginx_proxy_sites=[{"name": "shop", "upstreams": [app.upstream]}])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "duplicate default server" in output, output
    assert not (root.available / "shop.conf").exists()
    assert not (root.enabled / "shop.conf").exists()
    assert root.check().returncode == 0


def test_a_configuration_broken_elsewhere_fails_a_run_that_changes_nothing(root, app):
    sites = [{"name": "shop", "upstreams": [app.upstream]}]
    configured(root, nginx_proxy_sites=sites)
    (root.etc / "conf.d" / "broken.conf").write_text("not_a_directive on;\n")
    result = root.configure(nginx_proxy_sites=sites)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Check the whole nginx configuration" in output, output
    assert 'unknown directive \\"not_a_directive' in output, output


def test_the_variable_patterns_accept_what_nginx_accepts(root, app, tmp_path):
    site = {
        "name": "shop_2",
        "upstreams": [app.upstream],
        "server_names": ["shop.example", "*.shop.example", ".shop.test"],
        "static_root": f"{root.path}/static-files@v1.2+x",
    }
    configured(
        root,
        nginx_proxy_sites=[site],
        nginx_proxy_client_max_body_size="512k",
        nginx_proxy_static_expires="1h30m",
        nginx_proxy_connect_timeout="500ms",
    )
    with serving(root):
        assert get(root.http_port, "/", host="a.shop.test").json()["app"] == "shop"
