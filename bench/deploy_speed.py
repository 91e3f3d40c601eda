"""Deploy time as users see it: site.yml over SSH (key authentication, sudo) to Debian 12
systemd containers running sshd (bench/ssh-hosts.sh), everything measured in one run.

- the hand-written provisioning of the same app (bench/classic-stack.sh);
- cold, RUNS rounds alternating, each on fresh hosts: the shell, site.yml on 1 host, the
  revision BEFORE on another, site.yml with Mitogen's strategy on a third; then site.yml
  on HOSTS fresh hosts at once (forks = HOSTS), once;
- no-op: site.yml again, RUNS times, alternating: 1 host with SSH pipelining (the
  repository's ansible.cfg), without it, with Mitogen's strategy, and with the revision
  BEFORE (default 135dc84, the roles before run records) on a host it deployed; then the
  HOSTS hosts against 1 host;
- the task floor: the time one more trivial task (stat, with become) takes on 1 host,
  plain SSH and Mitogen, RUNS times.

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
from pathlib import Path

from loadlib import (
    container_versions,
    containers_cpu_seconds,
    load_average,
    playbook,
    run_header,
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


FLOOR_TASKS = 40


def task_floor(host, work, **env):
    """What a task costs at least: FLOOR_TASKS ansible.builtin.stat tasks on host (with
    become, as the roles run), its wall time per task beyond a 1-task play's."""

    def timed(count):
        play = Path(work) / f"floor-{count}.yml"
        stat = "    - ansible.builtin.stat:\n        path: /etc/passwd\n"
        play.write_text(f"- hosts: {host}\n  gather_facts: false\n  tasks:\n" + stat * count)
        return playbook(ROOT, INVENTORY, str(play), **env)["seconds"]

    return round((timed(FLOOR_TASKS + 1) - timed(1)) / FLOOR_TASKS, 3)


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
        **run_header(),
        "hosts": args.hosts,
        "before": args.before,
        "runs": {},
    }
    runs = result["runs"]
    subprocess.run(["bash", str(ROOT / "bench/ssh-hosts.sh"), "down"], check=True)
    # Each round of cold runs takes three fresh hosts: this revision, the one before, this
    # revision with Mitogen; the first round's two stay for the no-op runs (bench-ssh-1:
    # this revision, bench-ssh-2: the one before). Then the fleet of HOSTS hosts.
    cold_hosts = [
        {
            "cold 1 host": f"bench-ssh-{3 * round_ + 1}",
            "cold 1 host, before": f"bench-ssh-{3 * round_ + 2}",
            "cold 1 host, Mitogen": f"bench-ssh-{3 * round_ + 3}",
        }
        for round_ in range(args.runs)
    ]
    first = 3 * args.runs + 1
    hosts_up(first + args.hosts - 1)
    fleet = ":".join(f"bench-ssh-{n}" for n in range(first, first + args.hosts))

    with tempfile.TemporaryDirectory() as work:
        before = Path(work) / "before"
        before_checkout(args.before, before)
        # Profiled, each the same way: where a cold deploy's time goes (profile_tasks lists
        # the slowest tasks at the end; it costs a few ms per task).
        profiled = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"}
        cold = {
            "cold 1 host": lambda host: site(host, **profiled),
            "cold 1 host, before": lambda host: site(
                host, root=before, ANSIBLE_PIPELINING="True", **profiled
            ),
            # One Python per host for the whole run instead of one per task.
            "cold 1 host, Mitogen": lambda host: site(host, **mitogen_env(), **profiled),
        }
        try:
            for hosts in cold_hosts:
                anchor = subprocess.run(
                    ["bash", str(ROOT / "bench/classic-stack.sh"), "bench-deploy-classic"],
                    check=True,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                subprocess.run(
                    ["docker", "rm", "-f", "bench-deploy-classic"],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                runs.setdefault("cold 1 host, hand-written shell", []).append(
                    json.loads(anchor.stdout.strip().splitlines()[-1])["seconds"]
                )
                for name, measure in cold.items():
                    runs.setdefault(name, []).append(measure(hosts[name]))
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
            # The floor under each task of a cold run: starting the module's Python on
            # the host (importing Ansible's module_utils from the payload) for every task,
            # which Mitogen does once per host.
            floor = {
                "task floor, plain SSH": lambda: task_floor("bench-ssh-1", work),
                "task floor, Mitogen": lambda: task_floor("bench-ssh-1", work, **mitogen_env()),
            }
            for _round in range(args.runs):
                for name, measure in floor.items():
                    result.setdefault("task_floor_seconds", {}).setdefault(name, []).append(
                        measure()
                    )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False
            )

    medians = {
        name: statistics.median(r if isinstance(r, (int, float)) else r["seconds"] for r in values)
        for name, values in runs.items()
    }
    result["medians"] = medians
    result["task_floor_medians"] = {
        name: statistics.median(values) for name, values in result["task_floor_seconds"].items()
    }
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
        "cold 1 host, Mitogen / plain SSH": round(
            medians["cold 1 host, Mitogen"] / medians["cold 1 host"], 2
        ),
        "task floor, Mitogen / plain SSH": round(
            result["task_floor_medians"]["task floor, Mitogen"]
            / result["task_floor_medians"]["task floor, plain SSH"],
            2,
        ),
        "cold 1 host, Mitogen / hand-written": round(
            medians["cold 1 host, Mitogen"] / medians["cold 1 host, hand-written shell"], 2
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
    print(
        json.dumps(
            {
                "medians": medians,
                "task_floor": result["task_floor_medians"],
                "ratios": result["ratios"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
