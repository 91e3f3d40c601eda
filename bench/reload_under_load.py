"""Requests through nginx while the app's workers are reloaded: how many fail?

Sends GET requests from CLIENTS threads to URL for DURATION seconds (a bounded run on
loopback or a container of ours), and meanwhile runs COMMAND (a reload) every INTERVAL
seconds, at most TIMES times. Prints and writes as JSON: requests sent, failures by
kind, the latency of the successful requests (median, 99th percentile, slowest), how
long each COMMAND took. The load loop is loadlib.Load, shared with reload_workers.py.

  python3 bench/reload_under_load.py --url http://127.0.0.1:8081/work \\
      --command "docker exec webstack-demo /opt/circus/bin/circusctl \\
                 --endpoint ipc:///run/circus/circusd.sock reload demo --waiting" \\
      --out bench/results/drain-on-work.json
"""

import argparse
import json
import shlex
import subprocess
import time
import urllib.parse

from loadlib import Load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--command", required=True, help="the reload, run through shlex")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--times", type=int, default=0, help="run COMMAND at most this often")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    parts = urllib.parse.urlsplit(args.url)
    path = parts.path or "/"
    reloads = []
    with Load(parts.hostname, parts.port or 80, path, clients=args.clients) as load:
        start = time.monotonic()
        deadline = start + args.duration
        next_reload = start + args.interval / 2
        while next_reload < deadline - 1 and not (args.times and len(reloads) >= args.times):
            time.sleep(max(0.0, next_reload - time.monotonic()))
            began = time.monotonic()
            done = subprocess.run(
                shlex.split(args.command), capture_output=True, text=True, check=False
            )
            reloads.append({"seconds": round(time.monotonic() - began, 2), "rc": done.returncode})
            next_reload += args.interval
        time.sleep(max(0.0, deadline - time.monotonic()))

    result = {
        "url": args.url,
        "clients": args.clients,
        "duration_s": args.duration,
        "command": args.command,
        "requests": load.requests,
        "failed": load.failed,
        "outcomes": dict(load.tally),
        "latency_ms": load.latency_ms(),
        "reloads": reloads,
    }
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
