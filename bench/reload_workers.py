"""Graceful reloads of 2, 4 and 8 workers under load: how long each takes and how many
requests fail (the target is none).

For each worker count, the watcher is scaled with circus_watcher (numprocesses), then
CLIENTS clients (loadlib.Load: a new connection per request, every failure counted) send
GET URL through nginx while the watcher is reloaded TIMES times, first with Circus's own
graceful reload (`circusctl reload --waiting`), then with circus_watcher's surge reload
(what the django_app role runs for new code; its time includes Ansible's start-up).
The watcher is scaled back to 2 workers at the end. Writes JSON.

  python3 bench/reload_workers.py --container bench-serve-chaussette \\
      --url http://172.17.0.2/ --out bench/results/reload-workers.json
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

import loadlib

ENDPOINT = "ipc:///run/circus/circusd.sock"
CIRCUSCTL = "/opt/circus/bin/circusctl"


def module(inventory, container, arguments):
    """circus_watcher on the container with ansible ad hoc; fails loudly."""
    command = [
        "ansible",
        "-i",
        inventory,
        container,
        "-m",
        "webstack.circus.circus_watcher",
        "-a",
        f"name=demo endpoint={ENDPOINT} circusctl_path={CIRCUSCTL} {arguments}",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def circusctl(container, *argv):
    return subprocess.run(
        ["docker", "exec", container, CIRCUSCTL, "--endpoint", ENDPOINT, "--timeout", "120", *argv],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def reloads_under_load(url, clients, times, pause, reload):
    """TIMES reloads, PAUSE seconds of load before, between and after them."""
    parts = urllib.parse.urlsplit(url)
    seconds = []
    with loadlib.Load(parts.hostname, parts.port or 80, parts.path or "/", clients=clients) as load:
        time.sleep(pause)
        for _time in range(times):
            began = time.monotonic()
            reload()
            seconds.append(round(time.monotonic() - began, 2))
            time.sleep(pause)
    return {
        "reload_s": seconds,
        "reload_median_s": statistics.median(seconds),
        "requests": load.requests,
        "failed": load.failed,
        "outcomes": dict(load.tally),
        "latency_ms": load.latency_ms(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--container", required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--times", type=int, default=3)
    parser.add_argument("--pause", type=float, default=2.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    load_before = loadlib.load_average()
    runs = []
    try:
        for workers in args.workers:
            module(args.inventory, args.container, f"state=started numprocesses={workers}")
            circus = reloads_under_load(
                args.url,
                args.clients,
                args.times,
                args.pause,
                lambda: circusctl(args.container, "reload", "demo", "--waiting"),
            )
            surge = reloads_under_load(
                args.url,
                args.clients,
                args.times,
                args.pause,
                lambda: module(
                    args.inventory,
                    args.container,
                    "state=reloaded surge=true ready_dir=/srv/demo/ready",
                ),
            )
            for reload, result in (
                ("circusctl reload --waiting", circus),
                ("circus_watcher surge", surge),
            ):
                runs.append({"workers": workers, "reload": reload, **result})
                print(
                    f"{workers} workers, {reload}: {result['reload_s']} s, "
                    f"{result['failed']} of {result['requests']} failed",
                    file=sys.stderr,
                )
    finally:
        module(args.inventory, args.container, "state=started numprocesses=2")
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": loadlib.machine(),
        "load_average_before": load_before,
        "load_average_after": loadlib.load_average(),
        "url": args.url,
        "clients": args.clients,
        "controller": loadlib.controller_versions(),
        "containers": {args.container: loadlib.container_versions(args.container)},
        "runs": runs,
    }
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    print(
        json.dumps([{k: r[k] for k in ("workers", "reload", "reload_s", "failed")} for r in runs])
    )


if __name__ == "__main__":
    main()
