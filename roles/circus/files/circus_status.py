"""A live status page for circusd: its watchers, their processes with CPU and memory.

Run by the circus role's circus-status systemd unit with the Circus virtualenv's Python
(circus.client and pyzmq come from there; nothing else is needed):

    python circus_status.py --endpoint ipc:///run/circus/circusd.sock \
        --socket /run/circus-status/status.sock [--operator NAME ...]

It serves HTTP on a unix socket that only nginx reaches (the socket's group is nginx's),
so the X-Remote-User header is the user nginx authenticated with basic auth: nginx sets
it on every request and replaces whatever a client sent.

- GET /              the page (HTML, CSS and a little JavaScript, nothing fetched from
                     elsewhere); it asks for /status.json every two seconds.
- GET /status.json   watchers grouped by app, with their processes.
- POST /watchers/NAME/ACTION (incr, decr, reload) for the users named by --operator only,
  with the page's token in X-CSRF-Token and, when the browser sends it, an Origin of
  the page's own host. Without --operator every POST is refused (read-only).
"""

import argparse
import hashlib
import hmac
import json
import os
import secrets
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

ACTIONS = ("incr", "decr", "reload")
# Watchers that Circus runs for itself, shown under this app name.
CIRCUS_APP = "circus"
CIRCUS_WATCHERS = ("circusd-stats", "circushttpd")


def app_of(watcher):
    """The app a watcher belongs to: django_app names its watchers APP or APP-ROLE
    (a worker, a scheduler); Circus's own watchers belong to CIRCUS_APP."""
    if watcher in CIRCUS_WATCHERS:
        return CIRCUS_APP
    return watcher.split("-", 1)[0]


def processes_of(stats):
    """The processes of one watcher, sorted by pid, from the info of `stats NAME`."""
    rows = []
    for pid, info in (stats or {}).items():
        if not isinstance(info, dict):
            continue
        rows.append(
            {
                "pid": int(pid),
                "cpu": info.get("cpu"),
                "mem": info.get("mem"),
                # Circus formats it already, such as "30.96M".
                "mem_rss": info.get("mem_info1"),
                "age": info.get("age"),
            }
        )
    return sorted(rows, key=lambda row: row["pid"])


def snapshot(watchers):
    """The page's data from {watcher: {"status": ..., "numprocesses": N, "stats": {...}}}:
    apps sorted by name, each with its watchers sorted by name."""
    apps = {}
    for name in sorted(watchers):
        watcher = watchers[name]
        apps.setdefault(app_of(name), []).append(
            {
                "name": name,
                "status": watcher.get("status"),
                "numprocesses": watcher.get("numprocesses"),
                "processes": processes_of(watcher.get("stats")),
                # Circus's own watchers are left to Circus.
                "controllable": name not in CIRCUS_WATCHERS,
            }
        )
    return {"apps": [{"name": app, "watchers": apps[app]} for app in sorted(apps)]}


def csrf_token(secret, user):
    """The token a user's page sends with each POST; it changes when the service restarts."""
    return hmac.new(secret, user.encode(), hashlib.sha256).hexdigest()


def refusal(method, path, user, operators, token, expected_token, origin, host, watchers):
    """Why a request is refused, as (HTTP status, reason), or None when it may go on."""
    if method == "GET":
        return None if path in ("/", "/status.json") else (404, "not found")
    if method != "POST":
        return (405, "only GET, and POST /watchers/NAME/ACTION")
    parts = path.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "watchers":
        return (404, "not found")
    if not operators:
        return (403, "read-only: no operator is enabled")
    if not user or user not in operators:
        return (403, "not an operator")
    if not token or not hmac.compare_digest(token, expected_token):
        return (403, "missing or wrong X-CSRF-Token")
    if origin and urlsplit(origin).netloc != host:
        return (403, "cross-origin request")
    if parts[2] not in ACTIONS:
        return (404, "unknown action")
    if parts[1] not in watchers:
        return (404, "unknown watcher")
    if parts[1] in CIRCUS_WATCHERS:
        return (403, "Circus's own watcher")
    return None


class Circus:
    """One connection to circusd, shared by the request threads (a zmq socket is not
    thread-safe, so one call at a time)."""

    def __init__(self, endpoint, timeout):
        from circus.client import CircusClient

        self.client = CircusClient(endpoint=endpoint, timeout=timeout)
        self.lock = threading.Lock()

    def call(self, command, **properties):
        with self.lock:
            reply = self.client.call({"command": command, "properties": properties})
        if reply.get("status") == "error":
            raise RuntimeError(f"circusd refused {command}: {reply.get('reason')}")
        return reply

    def watchers(self):
        names = self.call("list")["watchers"]
        found = {}
        for name in names:
            found[name] = {
                "status": self.call("status", name=name).get("status"),
                "numprocesses": self.call("numprocesses", name=name).get("numprocesses"),
                "stats": self.call("stats", name=name).get("info"),
            }
        return found

    def act(self, name, action):
        self.call(action, name=name)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Circus status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; margin: 1.2em 0 .3em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin: .8em 0 .2em; }
table { border-collapse: collapse; min-width: 32em; }
th, td { text-align: right; padding: .15em .8em; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 1px solid #999; }
.state { font-weight: normal; padding: 0 .4em; border-radius: 3px; background: #eee; }
.active { background: #cfc; }
.stopped, .error { background: #fcc; }
#note { color: #666; }
button { margin-left: .3em; }
</style>
</head>
<body>
<h1>Circus status</h1>
<p id="note">Loading&hellip;</p>
<div id="apps"></div>
<script>
"use strict";
const operator = %(operator)s;
const token = %(token)s;
// Without the user and password a browser may keep in the page's address: fetch refuses
// a URL that carries them.
function here(path) {
  return new URL(path, location.origin + location.pathname).href;
}
function cell(row, text, tag) {
  const element = document.createElement(tag || "td");
  element.textContent = text;
  row.appendChild(element);
}
function number(value, digits) {
  return typeof value === "number" ? value.toFixed(digits) : "";
}
async function act(watcher, action) {
  const answer = await fetch(here("watchers/" + encodeURIComponent(watcher) + "/" + action),
    {method: "POST", headers: {"X-CSRF-Token": token}, credentials: "same-origin"});
  if (!answer.ok) { alert(action + " " + watcher + ": " + (await answer.text())); }
  refresh();
}
function fill(section, watcher) {
  const state = section.querySelector(".state");
  const count = watcher.processes.length;
  state.className = "state " + watcher.status;
  state.textContent = watcher.status + ", " + count + (count === 1 ? " process" : " processes");
  state.dataset.count = count;
  const body = section.querySelector("tbody");
  body.replaceChildren();
  for (const process of watcher.processes) {
    const row = body.insertRow();
    row.className = "process";
    cell(row, process.pid);
    cell(row, number(process.cpu, 1));
    cell(row, number(process.mem, 1));
    cell(row, process.mem_rss || "");
    cell(row, number(process.age, 0));
  }
}
function watcherSection(watcher) {
  const section = document.createElement("section");
  section.className = "watcher";
  section.dataset.watcher = watcher.name;
  const title = document.createElement("h3");
  title.textContent = watcher.name + " ";
  const state = document.createElement("span");
  title.appendChild(state);
  state.className = "state";
  if (operator && watcher.controllable) {
    for (const [action, label] of [["incr", "+1"], ["decr", "\\u22121"], ["reload", "reload"]]) {
      const button = document.createElement("button");
      button.textContent = label;
      button.dataset.action = action;
      button.onclick = () => act(watcher.name, action);
      title.appendChild(button);
    }
  }
  section.appendChild(title);
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const name of ["PID", "CPU %%", "Memory %%", "RSS", "Age (s)"]) { cell(head, name, "th"); }
  table.createTBody();
  section.appendChild(table);
  fill(section, watcher);
  return section;
}
// The apps, their watchers and the buttons shown: while they stay the same, a refresh
// updates each watcher's state and processes in place, so that it never replaces a
// button between the press and the release of a click (which would lose the click).
function shape(data) {
  return JSON.stringify(data.apps.map(app => [app.name, app.watchers.map(
    watcher => [watcher.name, Boolean(operator && watcher.controllable)])]));
}
function render(data) {
  const apps = document.getElementById("apps");
  const wanted = shape(data);
  if (apps.dataset.shape === wanted) {
    const sections = apps.querySelectorAll("section.watcher");
    let index = 0;
    for (const app of data.apps) {
      for (const watcher of app.watchers) { fill(sections[index++], watcher); }
    }
    return;
  }
  apps.replaceChildren();
  for (const app of data.apps) {
    const section = document.createElement("section");
    section.className = "app";
    section.dataset.app = app.name;
    const title = document.createElement("h2");
    title.textContent = app.name;
    section.appendChild(title);
    for (const watcher of app.watchers) { section.appendChild(watcherSection(watcher)); }
    apps.appendChild(section);
  }
  apps.dataset.shape = wanted;
}
async function refresh() {
  const note = document.getElementById("note");
  try {
    const answer = await fetch(here("status.json"),
                               {cache: "no-store", credentials: "same-origin"});
    const data = await answer.json();
    if (!answer.ok) { throw new Error(data.error || answer.statusText); }
    render(data);
    const role = operator ? "Operator " + operator + ": may scale and reload" : "Read-only";
    note.textContent = role +
      ". Updated " + new Date().toLocaleTimeString() + ", every 2 seconds.";
  } catch (error) {
    note.textContent = "Cannot read the status: " + error.message;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""


def page(operator, token):
    """The page for a user: operator and token are empty for a read-only user."""

    # json.dumps does not escape "</": a name with it could end the script element.
    def literal(value):
        return json.dumps(value).replace("</", "<\\/")

    return PAGE % {"operator": literal(operator), "token": literal(token)}


class Handler(BaseHTTPRequestHandler):
    server_version = "circus-status"
    circus = None
    operators = ()
    secret = b""

    def address_string(self):
        # Connections come over a unix socket: the client is nginx, whose own log has
        # the address.
        return "nginx"

    def send(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, value):
        self.send(status, json.dumps(value), "application/json")

    def handle_one(self, method):
        user = self.headers.get("X-Remote-User", "")
        path = urlsplit(self.path).path
        try:
            watchers = self.circus.watchers() if method == "POST" or path == "/status.json" else {}
        except Exception as error:  # pylint: disable=broad-exception-caught
            self.send_json(503, {"error": f"circusd does not answer: {error}"})
            return
        why = refusal(
            method,
            path,
            user,
            self.operators,
            self.headers.get("X-CSRF-Token", ""),
            csrf_token(self.secret, user),
            self.headers.get("Origin", ""),
            self.headers.get("Host", ""),
            watchers,
        )
        if why:
            self.send_json(why[0], {"error": why[1]})
        elif method == "POST":
            name, action = path.strip("/").split("/")[1:]
            try:
                self.circus.act(name, action)
            except Exception as error:  # pylint: disable=broad-exception-caught
                self.send_json(502, {"error": str(error)})
                return
            self.send_json(200, {"watcher": name, "action": action, "by": user})
        elif path == "/status.json":
            self.send_json(200, snapshot(watchers))
        else:
            operator = user if user and user in self.operators else ""
            token = csrf_token(self.secret, user) if operator else ""
            self.send(200, page(operator, token), "text/html; charset=utf-8")

    def do_GET(self):
        self.handle_one("GET")

    def do_POST(self):
        self.handle_one("POST")

    def do_PUT(self):
        self.handle_one("PUT")

    def do_DELETE(self):
        self.handle_one("DELETE")


class UnixHTTPServer(socketserver.ThreadingMixIn, HTTPServer):
    address_family = socket.AF_UNIX
    daemon_threads = True

    def server_bind(self):
        # HTTPServer.server_bind reads a host and port from the address.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--endpoint", required=True, help="circusd's control endpoint")
    parser.add_argument("--socket", required=True, help="unix socket to serve HTTP on")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for circusd")
    parser.add_argument(
        "--operator",
        action="append",
        default=[],
        help="a basic-auth user who may scale and reload watchers (repeat for more)",
    )
    args = parser.parse_args(argv)
    Handler.circus = Circus(args.endpoint, args.timeout)
    Handler.operators = tuple(args.operator)
    Handler.secret = secrets.token_bytes(32)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    server = UnixHTTPServer(args.socket, Handler)
    sys.stderr.write(
        f"circus-status: serving {args.socket} for {args.endpoint}, "
        f"operators: {', '.join(args.operator) or 'none (read-only)'}\n"
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
