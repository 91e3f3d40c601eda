"""What the tests of several apps and their watchers do on the scenario's host."""

import json
import pathlib

from helpers import circusctl

SCENARIO = pathlib.Path(__file__).resolve().parents[1]

# Fetches a URL from inside the container with a Host header, prints status and body.
HTTP_GET = """
import json, sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Host": sys.argv[2]})
try:
    answer = urllib.request.urlopen(request, timeout=20)
except urllib.error.HTTPError as error:
    answer = error
print(json.dumps({"status": answer.status, "body": answer.read().decode()}))
"""


def http_get(host, path, host_header="localhost"):
    """Status and body of GET http://127.0.0.1PATH (nginx) with this Host header."""
    result = host.run("python3 -c %s %s %s", HTTP_GET, "http://127.0.0.1" + path, host_header)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def watcher_pids(host, name):
    """The pids of a Circus watcher, sorted."""
    reply = json.loads(host.check_output(f"{circusctl(host)} --json list {name}"))
    assert reply["status"] == "ok", reply
    return sorted(reply["pids"])


# Prints a process's environment (as hex: values may hold any character but NUL) and its
# working directory, as JSON.
READ_PROCESS = """
import json, os, sys
print(json.dumps({"environ": open(f"/proc/{sys.argv[1]}/environ", "rb").read().hex(),
                  "cwd": os.readlink(f"/proc/{sys.argv[1]}/cwd")}))
"""


def process(host, pid, user):
    """The environment (a dict) and working directory of a process of this user."""
    # Root in the container may not read another user's /proc/PID (no CAP_SYS_PTRACE).
    raw = json.loads(
        host.check_output("runuser -u %s -- python3 -c %s %s", user, READ_PROCESS, str(pid))
    )
    entries = bytes.fromhex(raw["environ"]).split(b"\0")
    environ = dict(entry.decode().split("=", 1) for entry in entries if entry)
    return {"environ": environ, "cwd": raw["cwd"]}
