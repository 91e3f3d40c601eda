"""Deploy time as users see it: site.yml over SSH (key authentication, sudo) to Debian 12
systemd containers running sshd (bench/ssh-hosts.sh), everything measured in one run.

- the hand-written provisioning of the same app (bench/classic-stack.sh), cold;
- cold: site.yml on 1 fresh host, and on HOSTS fresh hosts at once (forks = HOSTS);
- no-op: site.yml again, RUNS times, alternating: 1 host with SSH pipelining (the
  repository's ansible.cfg), without it, with Mitogen's strategy, and with the revision
  BEFORE (default 135dc84, the roles before run records) on a host it deployed; then the
  HOSTS hosts against 1 host.

Writes bench/results/deploy-speed.json (one object: machine, versions, every run with its
wall time, the controller's CPU time and the hosts' (their containers' cgroups),
medians and ratios).
Usage: python3 bench/deploy_speed.py [--hosts 8] [--runs 3] [--before REV]
"""

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from loadlib import (
    container_versions,
    containers_cpu_seconds,
    controller_versions,
    load_average,
    machine,
    playbook,
)

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "build/bench/ssh/hosts.yml"


def hosts_up(count):
    subprocess.run(["bash", str(ROOT / "bench/ssh-hosts.sh"), "up", str(count)], check=True)


def site(limit, root=ROOT, forks=1, **env):
    """Run site.yml of the checkout at root on the hosts of limit; its wall time, recap,
    the controller's CPU time and the hosts' (their containers share the controller's
    cores here: what they spend is wall time the controller cannot use)."""
    hosts = limit.split(":")
    used = containers_cpu_seconds(hosts)
    result = playbook(root, INVENTORY, "site.yml", "--limit", limit, "--forks", str(forks), **env)
    result["hosts_cpu_seconds"] = round(containers_cpu_seconds(hosts) - used, 2)
    return result


def mitogen_env():
    """Mitogen's strategy, from the pinned package in the virtualenv (requirements-dev.txt)."""
    import ansible_mitogen

    plugins = Path(ansible_mitogen.__file__).parent / "plugins/strategy"
    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(plugins),
        "ANSIBLE_STRATEGY": "mitogen_linear",
        # Mitogen's SSH does not take ansible_ssh_common_args' host key options.
        "ANSIBLE_HOST_KEY_CHECKING": "False",
    }


def before_checkout(revision, into):
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), revision],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    link = into / "build/collections/ansible_collections/webstack/circus"
    link.parent.mkdir(parents=True)
    link.symlink_to(into)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", default="135dc84")
    args = parser.parse_args()

    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "controller": controller_versions(),
        "load_average_before": load_average(),
        "hosts": args.hosts,
        "before": args.before,
        "runs": {},
    }
    runs = result["runs"]
    subprocess.run(["bash", str(ROOT / "bench/ssh-hosts.sh"), "down"], check=True)
    # bench-ssh-1: this revision; bench-ssh-2: the one before; 3..HOSTS+2: the fleet.
    hosts_up(args.hosts + 2)
    fleet = ":".join(f"bench-ssh-{n}" for n in range(3, args.hosts + 3))

    anchor = subprocess.run(
        ["bash", str(ROOT / "bench/classic-stack.sh"), "bench-deploy-classic"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    subprocess.run(
        ["docker", "rm", "-f", "bench-deploy-classic"], check=True, stdout=subprocess.DEVNULL
    )
    runs["cold 1 host, hand-written shell"] = [
        json.loads(anchor.stdout.strip().splitlines()[-1])["seconds"]
    ]

    with tempfile.TemporaryDirectory() as work:
        before = Path(work) / "before"
        before_checkout(args.before, before)
        try:
            # Profiled: where a cold deploy's time goes (profile_tasks lists the slowest
            # tasks at the end; it costs a few ms per task).
            runs["cold 1 host"] = [
                site("bench-ssh-1", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
            ]
            runs["cold 1 host, before"] = [
                site("bench-ssh-2", root=before, ANSIBLE_PIPELINING="True")
            ]
            runs[f"cold {args.hosts} hosts"] = [site(fleet, forks=args.hosts)]
            variants = {
                "no-op 1 host": lambda: site("bench-ssh-1"),
                "no-op 1 host, no pipelining": lambda: site(
                    "bench-ssh-1", ANSIBLE_PIPELINING="False"
                ),
                "no-op 1 host, Mitogen": lambda: site("bench-ssh-1", **mitogen_env()),
                "no-op 1 host, before": lambda: site(
                    "bench-ssh-2", root=before, ANSIBLE_PIPELINING="True"
                ),
                f"no-op {args.hosts} hosts": lambda: site(fleet, forks=args.hosts),
            }
            for _round in range(args.runs):
                for name, measure in variants.items():
                    runs.setdefault(name, []).append(measure())
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False
            )

    medians = {
        name: statistics.median(r if isinstance(r, (int, float)) else r["seconds"] for r in values)
        for name, values in runs.items()
    }
    result["medians"] = medians
    # What the controller's CPU allows: HOSTS hosts cannot take less wall time than their
    # controller CPU time spread over every core.
    cpu = {
        name: statistics.median(r["controller_cpu_seconds"] for r in values)
        for name, values in runs.items()
        if all(isinstance(r, dict) for r in values)
    }
    result["controller_cpu_medians"] = cpu
    hosts_cpu = {
        name: statistics.median(r["hosts_cpu_seconds"] for r in values)
        for name, values in runs.items()
        if all(isinstance(r, dict) for r in values)
    }
    result["hosts_cpu_medians"] = hosts_cpu
    result["ratios"] = {
        "cold 1 host / hand-written": round(
            medians["cold 1 host"] / medians["cold 1 host, hand-written shell"], 2
        ),
        "no-op 1 host / before": round(
            medians["no-op 1 host"] / medians["no-op 1 host, before"], 2
        ),
        "no-op 1 host, no pipelining / pipelining": round(
            medians["no-op 1 host, no pipelining"] / medians["no-op 1 host"], 2
        ),
        "no-op 1 host, Mitogen / pipelining": round(
            medians["no-op 1 host, Mitogen"] / medians["no-op 1 host"], 2
        ),
        f"no-op {args.hosts} hosts / 1 host": round(
            medians[f"no-op {args.hosts} hosts"] / medians["no-op 1 host"], 2
        ),
        f"no-op {args.hosts} hosts, controller CPU / cores / no-op 1 host": round(
            cpu[f"no-op {args.hosts} hosts"] / result["machine"]["nproc"] / medians["no-op 1 host"],
            2,
        ),
        # The floor on a machine whose cores run the hosts too, as this one's do.
        f"no-op {args.hosts} hosts, controller and hosts CPU / cores / no-op 1 host": round(
            (cpu[f"no-op {args.hosts} hosts"] + hosts_cpu[f"no-op {args.hosts} hosts"])
            / result["machine"]["nproc"]
            / medians["no-op 1 host"],
            2,
        ),
    }
    result["load_average_after"] = load_average()
    result["host"] = container_versions("bench-ssh-1")
    out = ROOT / "bench/results/deploy-speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"medians": medians, "ratios": result["ratios"]}, indent=2))


if __name__ == "__main__":
    main()
