"""Requests through nginx while the app's workers are reloaded: how many fail?

Sends GET requests from CLIENTS threads to URL for DURATION seconds (a bounded run on
loopback or a container of ours), and meanwhile runs COMMAND (a reload) every INTERVAL
seconds, at most TIMES times. Prints and writes as JSON: requests sent, failures by
kind, the latency of the successful requests (median, 99th percentile, slowest), how
long each COMMAND took.

  python3 bench/reload_under_load.py --url http://127.0.0.1:8081/work \\
      --command "docker exec webstack-demo /opt/circus/bin/circusctl \\
                 --endpoint ipc:///run/circus/circusd.sock reload demo --waiting" \\
      --out bench/results/drain-on-work.json
"""

import argparse
import collections
import http.client
import json
import math
import shlex
import statistics
import subprocess
import threading
import time
import urllib.parse


def client_loop(url, deadline, tally, latencies, lock):
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
        began = time.monotonic()
        try:
            connection.request("GET", path)
            status = connection.getresponse().status
            outcome = "ok" if 200 <= status < 300 else f"http {status}"
        except (OSError, http.client.HTTPException) as error:
            outcome = type(error).__name__
        finally:
            connection.close()
        with lock:
            tally[outcome] += 1
            if outcome == "ok":
                latencies.append(time.monotonic() - began)


def latency_summary(latencies):
    """Median, 99th percentile and slowest, in milliseconds."""
    if not latencies:
        return {}
    ordered = sorted(latencies)
    return {
        "p50": round(statistics.median(ordered) * 1000),
        "p99": round(ordered[math.ceil(len(ordered) * 0.99) - 1] * 1000),
        "max": round(ordered[-1] * 1000),
    }


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

    tally, latencies, lock = collections.Counter(), [], threading.Lock()
    start = time.monotonic()
    deadline = start + args.duration
    clients = [
        threading.Thread(target=client_loop, args=(args.url, deadline, tally, latencies, lock))
        for _client in range(args.clients)
    ]
    for client in clients:
        client.start()
    reloads = []
    next_reload = start + args.interval / 2
    while next_reload < deadline - 1 and not (args.times and len(reloads) >= args.times):
        time.sleep(max(0.0, next_reload - time.monotonic()))
        began = time.monotonic()
        done = subprocess.run(
            shlex.split(args.command), capture_output=True, text=True, check=False
        )
        reloads.append({"seconds": round(time.monotonic() - began, 2), "rc": done.returncode})
        next_reload += args.interval
    for client in clients:
        client.join()

    result = {
        "url": args.url,
        "clients": args.clients,
        "duration_s": args.duration,
        "command": args.command,
        "requests": sum(tally.values()),
        "failed": sum(count for outcome, count in tally.items() if outcome != "ok"),
        "outcomes": dict(tally),
        "latency_ms": latency_summary(latencies),
        "reloads": reloads,
    }
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
