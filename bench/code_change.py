"""The everyday code change, as users deploy it: deploy.yml over SSH (key authentication,
sudo) to a Debian 12 systemd container running sshd (bench/ssh-hosts.sh), against the
same change made by hand (bench/hand-update.sh), everything measured in one run.

Three hosts, each deployed cold by site.yml first (not measured): bench-ssh-1 gets this
revision's deploy.yml, bench-ssh-2 the revision BEFORE's, bench-ssh-3 the hand-written
update; and a fleet of two app hosts behind one proxy (bench-ssh-4, proxy and app, and
bench-ssh-5, laid out as bench/rolling_deploy.py does), which this revision's deploy.yml
rolls one host after the other. Then RUNS rounds, alternating the four: each changes one
line of the demo's page, and each ends once the site serves it (deploy.yml waits for its
health check; the script asks the page until it holds the change). Last, one more change
with each revision's deploy.yml at -vvv, counting the SSH commands it ran: its round
trips to the host. Each host has an inventory of its own, so that deploy.yml's proxy
steps reach it alone.

Writes bench/results/code-change.json (machine, versions, every run, medians, ratios).
Then site.yml with nothing to do, three times on each revision's host, alternating, and
once more at -vvv for its round trips.

Usage: python3 bench/code_change.py [--runs 3] [--before REV]
"""

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from deploy_speed import INVENTORY, before_checkout, hosts_up
from loadlib import load_average, playbook, playbook_env, run_header
from rolling_deploy import WORK, fleet_layout

ROOT = Path(__file__).resolve().parents[1]
PAGE = Path("greetings/templates/greetings/index.html")


def own_inventory(host, into):
    """An inventory of the one host (with the demo's group_vars), in directory into."""
    everything = yaml.safe_load(INVENTORY.read_text())
    into.mkdir(parents=True, exist_ok=True)
    (into / "group_vars").symlink_to(ROOT / "demo/inventory/group_vars")
    inventory = {
        "all": {
            "hosts": {host: everything["all"]["hosts"][host]},
            "children": {"app": {"hosts": {host: None}}, "proxy": {"hosts": {host: None}}},
        }
    }
    path = into / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def changed_source(source, mark):
    """Put a line holding mark on the demo's page (in place of the last change's)."""
    original = (ROOT / "demo" / PAGE).read_text()
    (source / PAGE).write_text(original.replace("</h1>", f"</h1>\n  <p>{mark}</p>", 1))


def deploy(root, inventory, source):
    return playbook(root, inventory, "deploy.yml", "-e", f"django_app_source={source}")


def hand_update(host, source, mark):
    address = yaml.safe_load(INVENTORY.read_text())["all"]["hosts"][host]["ansible_host"]
    started = time.monotonic()
    subprocess.run(["bash", str(ROOT / "bench/hand-update.sh"), address, source, mark], check=True)
    return {"seconds": round(time.monotonic() - started, 2)}


def round_trips(root, inventory, source, name="deploy.yml"):
    """The SSH commands one run of the playbook name runs (-vvv prints each)."""
    run = subprocess.run(
        [
            "ansible-playbook",
            "-vvv",
            "-i",
            str(inventory),
            name,
            "-e",
            f"django_app_source={source}",
        ],
        cwd=root,
        env=playbook_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=True,
    )
    return len(re.findall(r"^<[^>]+> SSH: EXEC ", run.stdout, re.MULTILINE))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", default="489895f")
    args = parser.parse_args()
    result = {
        **run_header(),
        "before": args.before,
        "runs": {},
    }
    runs = result["runs"]
    subprocess.run(["bash", str(ROOT / "bench/ssh-hosts.sh"), "down"], check=True)
    hosts_up(5)
    fleet = WORK / "code-change-fleet.yml"
    hosts = yaml.safe_load(INVENTORY.read_text())["all"]["hosts"]
    fleet.write_text(
        yaml.safe_dump(fleet_layout(hosts, "bench-ssh-4", ["bench-ssh-4", "bench-ssh-5"]))
    )
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        before = work / "before"
        before_checkout(args.before, before)
        try:
            inventories = {
                n: own_inventory(f"bench-ssh-{n}", work / f"inventory-{n}") for n in (1, 2, 3)
            }
            source = work / "demo"
            shutil.copytree(ROOT / "demo", source, ignore=shutil.ignore_patterns("inventory"))
            for n, root in ((1, ROOT), (2, before), (3, ROOT)):
                playbook(root, inventories[n], "site.yml", "-e", f"django_app_source={source}")
            playbook(ROOT, fleet, "site.yml", "-e", f"django_app_source={source}")
            variants = {
                "code change, deploy.yml": lambda _mark: deploy(ROOT, inventories[1], source),
                "code change, deploy.yml before": lambda _mark: deploy(
                    before, inventories[2], source
                ),
                "code change, by hand": lambda mark: hand_update("bench-ssh-3", str(source), mark),
                "code change, deploy.yml, 2 app hosts rolling": lambda _mark: deploy(
                    ROOT, fleet, source
                ),
            }
            for round_ in range(args.runs):
                for name, measure in variants.items():
                    mark = f"Change {round_} of {name}"
                    changed_source(source, mark)
                    runs.setdefault(name, []).append(measure(mark))
            changed_source(source, "Counted")
            result["round_trips"] = {
                "deploy.yml": round_trips(ROOT, inventories[1], source),
                "deploy.yml before": round_trips(before, inventories[2], source),
            }
            # Then nothing to do: site.yml again on each revision's host (once unmeasured,
            # for the proxy's part that deploy.yml does not run).
            for n, root in ((1, ROOT), (2, before)):
                playbook(root, inventories[n], "site.yml", "-e", f"django_app_source={source}")
            no_ops = {
                "no-op, site.yml": lambda: playbook(
                    ROOT, inventories[1], "site.yml", "-e", f"django_app_source={source}"
                ),
                "no-op, site.yml before": lambda: playbook(
                    before, inventories[2], "site.yml", "-e", f"django_app_source={source}"
                ),
            }
            for _round in range(args.runs):
                for name, measure in no_ops.items():
                    runs.setdefault(name, []).append(measure())
            result["round_trips"].update(
                {
                    "no-op site.yml": round_trips(ROOT, inventories[1], source, "site.yml"),
                    "no-op site.yml before": round_trips(
                        before, inventories[2], source, "site.yml"
                    ),
                }
            )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False
            )
    medians = {
        name: statistics.median(run["seconds"] for run in values) for name, values in runs.items()
    }
    result["medians"] = medians
    hand = medians["code change, by hand"]
    result["ratios"] = {
        "deploy.yml / by hand": round(medians["code change, deploy.yml"] / hand, 2),
        "deploy.yml before / by hand": round(medians["code change, deploy.yml before"] / hand, 2),
        "deploy.yml / before": round(
            medians["code change, deploy.yml"] / medians["code change, deploy.yml before"], 2
        ),
        "rolling 2 app hosts / 1 host": round(
            medians["code change, deploy.yml, 2 app hosts rolling"]
            / medians["code change, deploy.yml"],
            2,
        ),
        "no-op / no-op before": round(
            medians["no-op, site.yml"] / medians["no-op, site.yml before"], 2
        ),
    }
    result["controller_cpu_medians"] = {
        name: statistics.median(run["controller_cpu_seconds"] for run in values)
        for name, values in runs.items()
        if "controller_cpu_seconds" in values[0]
    }
    result["load_average_after"] = load_average()
    out = ROOT / "bench/results/code-change.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    summary = ("medians", "ratios", "round_trips", "controller_cpu_medians")
    print(json.dumps({key: result[key] for key in summary}, indent=2))


if __name__ == "__main__":
    main()
