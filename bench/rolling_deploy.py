"""A rolling deploy of two app hosts behind one nginx, over SSH, under load.

Two sshd containers (bench/ssh-hosts.sh): bench-ssh-1 runs nginx and an app, bench-ssh-2
an app; each app's Circus socket is on its host's address, and nftables lets only the
proxy in. nginx balances over both. After a cold site.yml, deploy.yml (serial 1: each host
is taken out of nginx, reloaded and health-checked, then put back) runs while CLIENTS
threads send requests to the proxy (bench/loadlib.py's Load), alternately:
- a new release (the demo with one more line on its page, different each time: built
  on each host);
- back to the first release (already on the hosts: only the reloads).
Records the wall time of each deploy and every failed request, and checks that the proxy
serves the release deployed.

Writes bench/results/rolling-deploy.json. Usage: python3 bench/rolling_deploy.py [--runs 3]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import yaml
from loadlib import (
    Load,
    container_versions,
    load_average,
    playbook,
    run_header,
)

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build/bench/ssh"
HOSTS = ["bench-ssh-1", "bench-ssh-2"]
OUT = ROOT / "bench/results/rolling-deploy.json"


def fleet_layout(hosts, proxy, apps):
    """The inventory of app hosts behind one proxy (itself one of them): each app's socket
    on its host's address, only the proxy let in, static files copied to the proxy."""
    address = {name: hosts[name]["ansible_host"] for name in apps}
    for name in apps:
        hosts[name].update(
            django_app_socket_host=address[name],
            django_app_socket_clients=[address[proxy]],
            deploy_upstream_host=address[name],
        )
        # The proxy serves /static/: the other app hosts copy each release's files there.
        if name != proxy:
            hosts[name]["django_app_static_hosts"] = [proxy]
    # A host variable: the demo's group_vars (linked beside) would win over the group's.
    hosts[proxy]["nginx_proxy_sites"] = [
        {
            "name": "demo",
            "upstreams": [f"{address[name]}:8000" for name in apps],
            "static_root": "/srv/demo/static",
            "media_root": "/srv/demo/media",
        }
    ]
    return {
        "all": {
            "hosts": {name: hosts[name] for name in apps},
            "children": {
                "app": {"hosts": dict.fromkeys(apps)},
                "proxy": {"hosts": {proxy: None}},
            },
        }
    }


def inventory():
    """The ssh hosts' inventory, laid out as a fleet: bench-ssh-1 is the proxy."""
    subprocess.run(["bash", str(ROOT / "bench/ssh-hosts.sh"), "down"], check=True)
    subprocess.run(["bash", str(ROOT / "bench/ssh-hosts.sh"), "up", "2"], check=True)
    hosts = yaml.safe_load((WORK / "hosts.yml").read_text())["all"]["hosts"]
    path = WORK / "rolling.yml"
    path.write_text(yaml.safe_dump(fleet_layout(hosts, HOSTS[0], HOSTS), sort_keys=False))
    return path, hosts[HOSTS[0]]["ansible_host"]


def new_release(into, line):
    """The demo with one more line on its page."""
    shutil.copytree(ROOT / "demo", into, ignore=shutil.ignore_patterns("inventory"))
    page = into / "greetings/templates/greetings/index.html"
    page.write_text(
        page.read_text().replace(
            "<h1>webstack.circus demo</h1>", f"<h1>webstack.circus demo</h1>\n  <p>{line}</p>"
        )
    )


def served(proxy, line):
    """Whether the proxy's page shows line (or, for None, no added line)."""
    with urllib.request.urlopen(f"http://{proxy}/", timeout=10) as answer:
        page = answer.read().decode()
    return ("Release " in page) is (line is not None) and (line is None or line in page)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    result = {
        **run_header(),
        "clients": args.clients,
        "runs": {"new release": [], "release already on the hosts": []},
    }
    path, proxy = inventory()
    result["cold_site_seconds"] = playbook(ROOT, path, "site.yml")["seconds"]
    with tempfile.TemporaryDirectory() as work:
        for run in range(args.runs):
            line = f"Release {run + 2}."
            new_release(Path(work) / str(run), line)
            deploys = [
                ("new release", Path(work) / str(run), line),
                ("release already on the hosts", ROOT / "demo", None),
            ]
            for kind, source, shown in deploys:
                with Load(proxy, 80, "/", clients=args.clients) as load:
                    seconds = playbook(
                        ROOT, path, "deploy.yml", "-e", f"django_app_source={source}"
                    )["seconds"]
                if not served(proxy, shown):
                    sys.exit(f"the proxy does not serve the release of {source} after the deploy")
                result["runs"][kind].append(
                    {
                        "seconds": seconds,
                        "requests": load.requests,
                        "failed": load.failed,
                        "outcomes": dict(load.tally),
                        "latency_ms": load.latency_ms(),
                    }
                )
                # Kept after each deploy: a run that fails later keeps what it measured.
                OUT.write_text(json.dumps(result, indent=2) + "\n")
    # bench-ssh-1 runs nginx and an app.
    result["versions"] = container_versions("bench-ssh-1")
    result["load_average_after"] = load_average()
    result["summary"] = {
        kind: {
            "median_seconds": statistics.median(run["seconds"] for run in runs),
            "failed": sum(run["failed"] for run in runs),
            "requests": sum(run["requests"] for run in runs),
        }
        for kind, runs in result["runs"].items()
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
