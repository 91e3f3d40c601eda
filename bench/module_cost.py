"""What a module call costs against `circusctl list`: the wall time of a no-op
circus_watcher call (the watcher already started), of a circus_info call and of Ansible's
own ping, each run by `ansible` ad hoc on the container over docker exec (as `make demo`
reaches it), against `circusctl list` run in the container by docker exec. Median of
TIMES runs each, the commands interleaved. Writes JSON.

  python3 bench/module_cost.py --container bench-serve-chaussette \\
      --inventory bench/inventory/hosts.yml --out bench/results/module-cost.json
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import loadlib

ENDPOINT = "ipc:///run/circus/circusd.sock"
CIRCUSCTL = "/opt/circus/bin/circusctl"


def commands(inventory, container):
    circus = f"endpoint={ENDPOINT} circusctl_path={CIRCUSCTL}"
    adhoc = ["ansible", "-i", inventory, container, "-m"]
    return {
        "circusctl list (docker exec)": [
            "docker",
            "exec",
            container,
            CIRCUSCTL,
            "--endpoint",
            ENDPOINT,
            "list",
        ],
        "ansible ping (no Circus)": [*adhoc, "ansible.builtin.ping"],
        "circus_watcher no-op": [
            *adhoc,
            "webstack.circus.circus_watcher",
            "-a",
            f"name=demo state=started {circus}",
        ],
        "circus_info": [*adhoc, "webstack.circus.circus_info", "-a", circus],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--container", required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--times", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    runs = {name: [] for name in commands(args.inventory, args.container)}
    load_before = loadlib.load_average()
    for _time in range(args.times):
        for name, command in commands(args.inventory, args.container).items():
            began = time.monotonic()
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
            )
            elapsed = time.monotonic() - began
            if done.returncode != 0 or "CHANGED" in done.stdout:
                sys.exit(f"{name} did not run as a no-op:\n{done.stdout}{done.stderr}")
            runs[name].append(round(elapsed, 3))
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": loadlib.machine(),
        "load_average_before": load_before,
        "load_average_after": loadlib.load_average(),
        "controller": loadlib.controller_versions(),
        "containers": {args.container: loadlib.container_versions(args.container)},
        "calls": [
            {"call": name, "seconds": seconds, "median_s": statistics.median(seconds)}
            for name, seconds in runs.items()
        ],
    }
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    for call in result["calls"]:
        print(json.dumps({"call": call["call"], "median_s": call["median_s"]}))


if __name__ == "__main__":
    main()
