"""A PEP 503 package index over HTTPS with basic authentication, for the apps scenario:
serves the wheels in DIRECTORY/wheels at /simple/PROJECT/ and logs each request."""

import base64
import hashlib
import html
import http.server
import pathlib
import re
import ssl
import sys

ROOT = pathlib.Path(sys.argv[1])
CREDENTIALS = (ROOT / "credentials").read_text().strip()
WHEELS = ROOT / "wheels"


def project(wheel):
    return re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()


class Index(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        expected = "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.answer(401, b"", {"WWW-Authenticate": 'Basic realm="index"'})
        elif match := re.fullmatch(r"/simple/([a-z0-9-]+)/", self.path):
            links = [
                f'<a href="/files/{html.escape(wheel.name)}#sha256='
                f'{hashlib.sha256(wheel.read_bytes()).hexdigest()}">{html.escape(wheel.name)}</a>'
                for wheel in sorted(WHEELS.glob("*.whl"))
                if project(wheel) == match.group(1)
            ]
            body = ("<!DOCTYPE html><html><body>" + "<br>".join(links) + "</body></html>").encode()
            self.answer(200 if links else 404, body, {"Content-Type": "text/html"})
        elif (match := re.fullmatch(r"/files/([A-Za-z0-9._+-]+\.whl)", self.path)) and (
            WHEELS / match.group(1)
        ).is_file():
            self.answer(200, (WHEELS / match.group(1)).read_bytes(), {})
        else:
            self.answer(404, b"", {})

    def answer(self, status, body, headers):
        user = (CREDENTIALS.split(":")[0]) if status != 401 else "-"
        with (ROOT / "access.log").open("a") as log:
            log.write(f"{user} {self.command} {self.path} {status}\n")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(ROOT / "server.pem", ROOT / "server.key")
server = http.server.ThreadingHTTPServer(("127.0.0.1", 8443), Index)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
