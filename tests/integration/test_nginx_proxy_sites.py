"""The nginx_proxy role's sites, written by its own tasks and served by a real nginx
(nginx_harness.py): what reaches the apps, what nginx serves itself, and a configuration
that stays valid at every step."""

import gzip
import http.client
import json
import socket
import socketserver
import ssl
import stat
import subprocess
import threading

import pytest
from nginx_harness import Answer, backend, get, nginx_root, serving


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
    """And nginx_proxy_sites is the proxy's whole list: a site taken out of it is disabled
    and removed; files that are not the role's stay."""
    (root.available / "theirs.conf").write_text("# not the role's\n")
    named = [
        {"name": "shop", "upstreams": [app.upstream], "server_names": ["shop.example"]},
        {"name": "blog", "upstreams": [app.upstream], "server_names": ["blog.example"]},
    ]
    configured(root, nginx_proxy_sites=named)
    assert (root.enabled / "blog.conf").exists()
    configured(root, nginx_proxy_sites=[{"name": "shop", "upstreams": [app.upstream]}])
    assert sorted(path.name for path in root.enabled.iterdir()) == ["shop.conf"]
    assert not (root.available / "blog.conf").exists()
    assert (root.available / "theirs.conf").exists()
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


def test_the_site_check_leaves_no_copy_behind(root, app, tmp_path, monkeypatch):
    """Each file the role writes is checked (nginx-proxy-check-site) with copies of the
    configuration beside nginx.conf and of the sites in a temporary directory."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    configured(root, nginx_proxy_sites=[{"name": "shop", "upstreams": [app.upstream]}])
    assert not list(root.etc.glob(".nginx-proxy-check.*"))
    assert not list(tmp_path.glob("tmp.*"))


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
    app_headers = [("X-Frame-Options", "SAMEORIGIN"), ("X-Content-Type-Options", "nosniff")]
    with nginx_root() as root, backend("shop", app_headers) as server:
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
        (static / "site.css").write_text("body { color: black }\n" * 20)
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


@pytest.mark.parametrize("path", ["/", "/static/site.css", "/media/photo.png", "/media/.env"])
def test_every_answer_carries_the_security_headers_once(uploads, path):
    headers = get(uploads.http_port, path).headers
    assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
    # The app sent SAMEORIGIN: the proxy's value replaces it.
    assert headers.get_all("X-Frame-Options") == ["DENY"]
    assert headers.get_all("Referrer-Policy") == ["strict-origin-when-cross-origin"]
    assert headers["Server"] == "nginx"
    # HSTS only over HTTPS.
    assert "Strict-Transport-Security" not in headers


def test_the_app_gets_the_client_address_and_scheme_not_what_the_client_claims(uploads):
    sent = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    got = get(uploads.http_port, "/", host="shop.example", headers=sent).json()["headers"]
    assert got["X-Forwarded-For"] == "127.0.0.1"
    assert got["X-Real-IP"] == "127.0.0.1"
    assert got["X-Forwarded-Proto"] == "http"
    assert got["X-Forwarded-Host"] == "shop.example"


def test_the_app_gets_the_host_the_client_asked_for_with_its_port(uploads):
    """Django's CSRF check compares a browser's Origin (http://shop.example:8081) with
    the Host the app gets: it must keep the port."""
    got = get(uploads.http_port, "/", host="shop.example:8081").json()["headers"]
    assert (got["Host"], got["X-Forwarded-Host"]) == ("shop.example:8081", "shop.example:8081")
    with socket.create_connection(("127.0.0.1", uploads.http_port), timeout=10) as client:
        client.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    # No Host at all: nginx's $host, the site's first server name (none given here: "_").
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["headers"]["Host"] == "_"


def test_text_is_compressed(uploads):
    answer = get(uploads.http_port, "/static/site.css", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(answer.body) == b"body { color: black }\n" * 20


def test_an_empty_frame_options_lets_the_app_decide(root):
    with backend("shop", [("X-Frame-Options", "SAMEORIGIN")]) as app:
        configured(
            root,
            nginx_proxy_sites=[{"name": "shop", "upstreams": [app.upstream]}],
            nginx_proxy_frame_options="",
        )
        with serving(root):
            assert get(root.http_port, "/").headers.get_all("X-Frame-Options") == ["SAMEORIGIN"]


def https_get(port, path, server_name, cafile=None, alpn=("http/1.1",)):
    """One HTTPS request with SNI; (answer, the ALPN protocol nginx chose)."""
    context = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(list(alpn))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            chosen = tls.selected_alpn_protocol()
            if chosen != "http/1.1":
                return None, chosen
            request = f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n"
            tls.sendall(request.encode())
            response = http.client.HTTPResponse(tls)
            response.begin()
            return Answer(response.status, response.headers, response.read()), chosen
    finally:
        raw.close()


@pytest.fixture(scope="module")
def tls_site():
    """A site with server_names over HTTPS with a self-signed certificate, configured
    twice (the second run's result is kept), served by nginx."""
    with nginx_root() as root, backend("shop") as server:
        variables = dict(
            nginx_proxy_sites=[
                {"name": "shop", "upstreams": [server.upstream], "server_names": ["shop.example"]}
            ],
            nginx_proxy_tls=True,
            nginx_proxy_tls_self_signed=True,
            nginx_proxy_hsts_max_age=600,
        )
        configured(root, **variables)
        root.second_run = configured(root, **variables)
        with serving(root, root.http_port, root.https_port):
            yield root


def test_http_is_redirected_to_https(tls_site):
    answer = get(tls_site.http_port, "/page?x=1", host="shop.example")
    assert answer.status == 301
    assert answer.headers["Location"] == f"https://shop.example:{tls_site.https_port}/page?x=1"
    assert "Strict-Transport-Security" not in answer.headers


def test_https_answers_with_hsts_and_a_certificate_for_the_site(tls_site):
    cafile = str(tls_site.etc / "webstack-tls" / "webstack.crt")
    answer, _alpn = https_get(tls_site.https_port, "/", "shop.example", cafile=cafile)
    assert answer.status == 200
    assert answer.json()["headers"]["X-Forwarded-Proto"] == "https"
    assert answer.headers.get_all("Strict-Transport-Security") == ["max-age=600"]
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_https_offers_http2(tls_site):
    assert https_get(tls_site.https_port, "/", "shop.example", alpn=("h2", "http/1.1"))[1] == "h2"


def test_https_refuses_the_handshake_for_unknown_names(tls_site):
    with pytest.raises(ssl.SSLError):
        https_get(tls_site.https_port, "/", "other.example")


def test_the_private_key_is_root_only_and_a_rerun_changes_nothing(tls_site):
    assert stat.S_IMODE((tls_site.etc / "webstack-tls").stat().st_mode) == 0o700
    assert stat.S_IMODE((tls_site.etc / "webstack-tls" / "webstack.key").stat().st_mode) == 0o600
    assert "changed=0" in tls_site.second_run.stdout


def test_a_given_certificate_and_key_are_used_and_the_key_never_shown(root, tmp_path):
    key, certificate = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=shop.example", "-addext", "subjectAltName=DNS:shop.example",
         "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    with backend("shop") as app:
        result = configured(
            root,
            "--diff",
            "-v",
            nginx_proxy_sites=[{"name": "shop", "upstreams": [app.upstream]}],
            nginx_proxy_tls=True,
            nginx_proxy_tls_certificate=certificate.read_text(),
            nginx_proxy_tls_certificate_key=key.read_text(),
        )
        secret_line = key.read_text().splitlines()[1]
        assert secret_line not in result.stdout + result.stderr
        written = root.etc / "webstack-tls" / "webstack.key"
        assert written.read_text() == key.read_text()
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        with serving(root, root.http_port, root.https_port):
            answer, _alpn = https_get(root.https_port, "/", "shop.example", cafile=str(certificate))
            assert answer.status == 200


class UpgradingBackend(socketserver.ThreadingTCPServer):
    """An app that switches a WebSocket handshake to an echo of bytes (what an ASGI app
    under uvicorn does after its handshake), and records the headers each request had."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), UpgradingHandler)
        self.heads = []


class UpgradingHandler(socketserver.StreamRequestHandler):
    def handle(self):
        head = {}
        self.rfile.readline()
        while (line := self.rfile.readline().decode()) not in ("\r\n", ""):
            name, value = line.split(":", 1)
            head[name.strip().lower()] = value.strip()
        self.server.heads.append(head)
        if head.get("upgrade", "").lower() != "websocket":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
            return
        self.wfile.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        )
        self.wfile.flush()
        while data := self.request.recv(1024):
            self.request.sendall(data)


def test_websocket_upgrades_reach_the_app_and_stay_open(root):
    server = UpgradingBackend()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sites = [{"name": "chat", "upstreams": [f"127.0.0.1:{server.server_address[1]}"]}]
        configured(root, nginx_proxy_sites=sites)
        with serving(root):
            with socket.create_connection(("127.0.0.1", root.http_port), timeout=10) as client:
                client.sendall(
                    b"GET /ws/ HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                )
                reader = client.makefile("rb")
                assert reader.readline().startswith(b"HTTP/1.1 101"), server.heads
                while reader.readline() not in (b"\r\n", b""):
                    pass
                # The connection is the app's now: what the client sends comes back.
                for message in (b"ping", b"pong" * 1000):
                    client.sendall(message)
                    assert reader.read(len(message)) == message
            plain = get(root.http_port, "/", host="chat.example")
            assert plain.body == b"no"
        upgraded, other = server.heads
        assert (upgraded["upgrade"], upgraded["connection"]) == ("websocket", "upgrade")
        assert "upgrade" not in other and other["connection"] == "close"
    finally:
        server.shutdown()
        server.server_close()


def maintenance_sites(server):
    return [
        {"name": "shop", "upstreams": [server.upstream]},
        {"name": "blog", "server_names": ["blog.test"], "upstreams": [server.upstream]},
    ]


def switched(root, state, **variables):
    result = root.maintenance(state, **variables)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_maintenance_answers_503_with_retry_after_but_for_its_paths_until_taken_off(root, app):
    sites = maintenance_sites(app)
    variables = {
        "nginx_proxy_sites": sites,
        "nginx_proxy_maintenance_paths": ["/healthz"],
        "nginx_proxy_maintenance_allow": ["192.0.2.0/24", "2001:db8::/32"],
        "nginx_proxy_maintenance_retry_after": 120,
    }
    configured(root, **variables)
    with serving(root):
        assert get(root.http_port, "/").status == 200
        switched(root, "on", **variables)
        again = switched(root, "on", **variables)
        assert "changed=0" in again.stdout
        for host in ("localhost", "blog.test"):
            answer = get(root.http_port, "/orders/", host=host)
            assert answer.status == 503, host
            assert answer.headers["Retry-After"] == "120"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert b"Down for maintenance" in answer.body
        assert get(root.http_port, "/healthz").json()["app"] == "shop"
        switched(root, "off", **variables)
        assert get(root.http_port, "/orders/").status == 200
        assert get(root.http_port, "/orders/", host="blog.test").status == 200


def test_maintenance_of_one_site_and_for_an_allowed_network(root, app):
    sites = maintenance_sites(app)
    configured(root, nginx_proxy_sites=sites, nginx_proxy_maintenance_allow=["127.0.0.0/8"])
    with serving(root):
        switched(root, "on", nginx_proxy_sites=sites, maintenance_sites=["blog"])
        # This machine's clients are allowed: the app answers them.
        assert get(root.http_port, "/", host="blog.test").status == 200
    configured(root, nginx_proxy_sites=sites)
    with serving(root):
        assert get(root.http_port, "/", host="blog.test").status == 503
        assert get(root.http_port, "/").status == 200


def test_maintenance_of_a_site_the_proxy_does_not_have_is_refused(root, app):
    sites = maintenance_sites(app)
    configured(root, nginx_proxy_sites=sites)
    result = root.maintenance("on", nginx_proxy_sites=sites, maintenance_sites=["shop", "wiki"])
    assert result.returncode != 0
    assert "names sites localhost does not have: wiki (its sites: shop, blog)" in result.stdout
    assert not (root.path / "maintenance" / "shop.on").exists()
