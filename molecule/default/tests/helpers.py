"""What the scenario's tests do on a host: fetch a page from inside it, run site.yml on it."""

import json
import os
import pathlib
import subprocess
import sys

# The project's tests/: the circus role's paths, read from its defaults.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests"))
import circus_paths


def circus_variables(host):
    """The circus role's variables on this host: its defaults, with the inventory's values."""
    return circus_paths.circus_variables(host.ansible.get_variables())


def circusctl(host):
    """circusctl on a deployed host, as root or a member of circus_admin_group."""
    return circus_paths.circusctl(circus_variables(host)) + " --timeout 5"


# Fetches a URL from inside the container (a minimal host has python3 but no curl) and
# prints status, headers and body as JSON.
HTTP_GET = """
import json, sys, urllib.error, urllib.request
try:
    answer = urllib.request.urlopen(sys.argv[1], timeout=10)
except urllib.error.HTTPError as error:
    answer = error
print(json.dumps({"status": answer.status, "headers": answer.headers.items(),
                  "body": answer.read().decode()}))
"""


def http_get(host, path):
    """Status, headers (each name mapped to its values joined by ", ") and body."""
    result = host.run("python3 -c %s %s", HTTP_GET, "http://127.0.0.1" + path)
    assert result.rc == 0, result.stderr
    answer = json.loads(result.stdout)
    headers = {}
    for name, value in answer["headers"]:
        headers[name] = headers[name] + ", " + value if name in headers else value
    answer["headers"] = headers
    return answer


def run_playbook(host, playbook, *args):
    """Run a playbook (a path from the project's directory) on this host only; return the
    finished process, its output (stdout and stderr in one stream, without colours) in
    .stdout."""
    project = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(playbook),
            "--limit",
            host.backend.get_hostname(),
            *args,
        ],
        cwd=project,
        env=dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=f"{project}/build/collections",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_NOCOLOR="1",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def run_site(host, *args):
    """Run site.yml on this host only (see run_playbook)."""
    return run_playbook(host, "site.yml", *args)


# Every distribution of a virtualenv: its name, version and the names it requires.
DISTRIBUTIONS = """
import importlib.metadata, json, re
print(json.dumps([[dist.metadata["Name"], dist.version,
                   [re.match(r"[A-Za-z0-9._-]+", line).group() for line in dist.requires or ()
                    if "extra ==" not in line]] for dist in importlib.metadata.distributions()]))
"""


def unpinned(host, app, requirements_file, server):
    """What the app's virtualenv holds that the demo's requirements file (and the files
    it includes) does not pin at that version, leaving out the server the role installs
    (django_app_server) and what it requires: (name, version) pairs, empty when the
    demo pins all it installs."""
    venv = f"/srv/{app}/current/venv"
    found = json.loads(host.check_output(f"{venv}/bin/python -c %s", DISTRIBUTIONS))
    installed = {canonical(name): (version, required) for name, version, required in found}
    role_s = {server} | {canonical(name) for name in installed[server][1]}
    demo = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "demo"
    pins = pinned(demo / requirements_file)
    return sorted(
        (name, version)
        for name, (version, _required) in installed.items()
        if name not in role_s | {"pip", "setuptools"} and pins.get(name) != version
    )


def pinned(path):
    """name: version of each name==version line of a requirements file and those it
    includes with -r (environment markers are left out: a package is looked up only when
    a host installed it)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            pins.update(pinned(path.parent / line[3:].strip()))
        elif "==" in line:
            name, version = line.split(";")[0].split("==")
            pins[canonical(name.split("[")[0])] = version.strip()
    return pins


def canonical(name):
    return name.strip().lower().replace("_", "-").replace(".", "-")
