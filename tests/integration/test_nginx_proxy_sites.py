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


@pytest.fixture(scope="module")
def uploads():
    """One site whose /media/ holds what a user (or the app's user) could put there, and
    whose /static/ holds a dotfile and a link, served by nginx."""
    with nginx_root() as root, backend("shop") as server:
        secret = root.path / "settings.py"
        secret.write_text("SECRET_KEY = 'do-not-serve'\n")
        media = root.path / "media"
        media.mkdir()
        (media / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        (media / "page.html").write_text("<script>alert(document.cookie)</script>")
        (media / "image.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>')
        (media / "feed.xml").write_text("<?xml version='1.0'?><feed/>")
        (media / ".env").write_text("SECRET=1\n")
        (media / "settings.txt").symlink_to(secret)
        static = root.path / "static"
        (static / ".git").mkdir(parents=True)
        (static / ".git" / "config").write_text("[core]\n")
        (static / "site.css").write_text("body { color: black }\n")
        (static / "linked.css").symlink_to(secret)
        sites = [
            {
                "name": "shop",
                "upstreams": [server.upstream],
                "static_root": str(static),
                "media_root": str(media),
            }
        ]
        configured(root, nginx_proxy_sites=sites)
        with serving(root):
            yield root


@pytest.mark.parametrize("name", ["photo.png", "page.html", "image.svg", "feed.xml"])
def test_media_files_carry_nosniff_and_a_sandboxing_policy(uploads, name):
    answer = get(uploads.http_port, "/media/" + name)
    assert answer.status == 200
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_media_images_keep_their_type(uploads):
    assert get(uploads.http_port, "/media/photo.png").headers["Content-Type"] == "image/png"


@pytest.mark.parametrize("name", ["page.html", "image.svg", "feed.xml"])
def test_media_pages_are_never_sent_as_something_a_browser_renders(uploads, name):
    answer = get(uploads.http_port, "/media/" + name)
    assert answer.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("path", ["/media/settings.txt", "/static/linked.css"])
def test_links_under_media_and_static_are_not_followed(uploads, path):
    answer = get(uploads.http_port, path)
    assert answer.status == 403
    assert b"do-not-serve" not in answer.body


@pytest.mark.parametrize("path", ["/media/.env", "/static/.git/config"])
def test_dotfiles_under_media_and_static_are_not_found(uploads, path):
    assert get(uploads.http_port, path).status == 404


def test_static_files_are_still_served(uploads):
    answer = get(uploads.http_port, "/static/site.css")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/css"
