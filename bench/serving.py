"""Requests/s and latency of several stacks measured in one run, with alternating passes.

Each --case names a stack, a page and its URL. After a short warm-up of every case, each
of ROUNDS rounds runs one wrk pass of DURATION seconds per case, page by page, the order
of the stacks rotated from round to round, so that a drift of the shared machine's load
spreads over every stack; the result of a case is the median of its passes. Writes the
passes, the medians, the machine, its load average before and after, and the versions
found in each --container as JSON.

  python3 bench/serving.py --case classic page http://172.17.0.5/ \\
      --case chaussette page http://172.17.0.2/ --container bench-serve-classic \\
      --out bench/results/serving.json
"""

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import urllib.parse

import loadlib


def cpu_ms_per_request(one_pass):
    """CPU milliseconds each program of the container spent per request served: unlike
    requests/s, hardly moved by what else runs on the shared machine."""
    cores = one_pass.get("container_cpu_cores", {})
    per_request = {name: used * 1000 / one_pass["rps"] for name, used in cores.items()}
    per_request["total"] = sum(per_request.values())
    return per_request


def median_of(passes):
    per_request = [cpu_ms_per_request(p) for p in passes]
    return {
        "rps": round(statistics.median(p["rps"] for p in passes), 1),
        "p50_ms": round(statistics.median(p["latency_ms"]["p50"] for p in passes), 2),
        "p99_ms": round(statistics.median(p["latency_ms"]["p99"] for p in passes), 2),
        "failed": sum(p["failed"] for p in passes),
        "wrk_cpu_cores": round(statistics.median(p["wrk_cpu_cores"] for p in passes), 2),
        "container_cpu_cores": {
            name: round(
                statistics.median(p.get("container_cpu_cores", {}).get(name, 0) for p in passes), 2
            )
            for name in {n for p in passes for n in p.get("container_cpu_cores", {})}
        },
        "cpu_ms_per_request": {
            name: round(statistics.median(p.get(name, 0) for p in per_request), 2)
            for name in sorted({n for p in per_request for n in p})
        },
    }


def container_addresses(containers):
    """Address on the Docker bridge -> container name."""
    return {
        subprocess.run(
            ["docker", "inspect", "-f", "{{ .NetworkSettings.IPAddress }}", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(): name
        for name in containers
    }


def measured_pass(case, duration, connections, containers):
    """One wrk pass, and the CPU the container's programs used meanwhile, in cores."""
    container = containers.get(urllib.parse.urlsplit(case["url"]).hostname)
    before = loadlib.process_cpu(container) if container else {}
    result = loadlib.wrk(case["url"], duration, connections)
    if container:
        after = loadlib.process_cpu(container)
        used = {name: (after[name] - before.get(name, 0)) / duration for name in after}
        result["container_cpu_cores"] = {
            name: round(cores, 2) for name, cores in sorted(used.items()) if cores >= 0.01
        }
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case", nargs=3, action="append", required=True, metavar=("STACK", "PAGE", "URL")
    )
    parser.add_argument("--container", action="append", default=[])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--note", default="")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    cases = [{"stack": s, "page": p, "url": u, "passes": []} for s, p, u in args.case]
    pages = list(dict.fromkeys(case["page"] for case in cases))
    containers = container_addresses(args.container)
    load_before = loadlib.load_average()
    for case in cases:
        loadlib.wrk(case["url"], args.warmup, args.connections)
    for round_index in range(args.rounds):
        for page in pages:
            these = [case for case in cases if case["page"] == page]
            shift = round_index % len(these)
            for case in these[shift:] + these[:shift]:
                result = measured_pass(case, args.duration, args.connections, containers)
                case["passes"].append(result)
                print(
                    f"round {round_index + 1} {case['stack']:>24} {page:>6}: "
                    f"{result['rps']:8.1f} rps p99 {result['latency_ms']['p99']} ms "
                    f"failed {result['failed']}",
                    file=sys.stderr,
                )
    for case in cases:
        case["median"] = median_of(case["passes"])
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "note": args.note,
        "machine": loadlib.machine(),
        "load_average_before": load_before,
        "load_average_after": loadlib.load_average(),
        "load_generator": {
            "tool": "wrk",
            "threads": 1,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
        },
        "controller": loadlib.controller_versions(),
        "containers": {name: loadlib.container_versions(name) for name in args.container},
        "cases": cases,
    }
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    for case in cases:
        print(json.dumps({"stack": case["stack"], "page": case["page"], **case["median"]}))


if __name__ == "__main__":
    main()
