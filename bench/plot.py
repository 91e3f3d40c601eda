"""Draw the figures of bench/README.md from the JSON results in bench/results/:
plots/serving.png (requests/s per stack and page, p99 latency and
the CPU the container spent per request below) and
plots/reload.png (reload time against the number of workers) and
plots/deploy.png (site.yml over SSH: cold and no-op runs, 1 host and many, against the
hand-written provisioning).

  python3 bench/plot.py
"""

import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BENCH = pathlib.Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PLOTS = BENCH / "plots"


def serving(path, out):
    result = json.loads(path.read_text())
    cases = result["cases"]
    stacks = list(dict.fromkeys(case["stack"] for case in cases))
    pages = list(dict.fromkeys(case["page"] for case in cases))
    by_key = {(case["stack"], case["page"]): case["median"] for case in cases}
    figure, (rps_axes, p99_axes, cpu_axes) = plt.subplots(3, 1, figsize=(9, 10), sharex=True)
    width = 0.8 / len(pages)
    for index, page in enumerate(pages):
        positions = [s + (index - (len(pages) - 1) / 2) * width for s in range(len(stacks))]
        medians = [by_key.get((stack, page)) for stack in stacks]
        rps = [m["rps"] if m else 0 for m in medians]
        p99 = [m["p99_ms"] if m else 0 for m in medians]
        bars = rps_axes.bar(positions, rps, width, label=page)
        rps_axes.bar_label(bars, labels=[f"{v:.0f}" if v else "" for v in rps], fontsize=7)
        bars = p99_axes.bar(positions, p99, width, label=page)
        p99_axes.bar_label(bars, labels=[f"{v:.0f}" if v else "" for v in p99], fontsize=7)
        cpu = [m["cpu_ms_per_request"]["total"] if m else 0 for m in medians]
        bars = cpu_axes.bar(positions, cpu, width, label=page)
        cpu_axes.bar_label(bars, labels=[f"{v:.2f}" if v else "" for v in cpu], fontsize=7)
    load = result["load_generator"]
    rps_axes.set_ylabel("requests/s (median of passes)")
    rps_axes.set_yscale("log")
    rps_axes.legend(title="page")
    rps_axes.set_title(
        f"nginx on port 80, 2 workers; wrk, {load['connections']} connections, "
        f"{load['rounds']} alternating passes of {load['duration_s']} s\n"
        f"{result['machine']['nproc']} cores: {result['machine']['cpu_model']}",
        fontsize=9,
    )
    p99_axes.set_ylabel("p99 latency (ms)")
    p99_axes.set_yscale("log")
    cpu_axes.set_ylabel("CPU ms per request\n(container, all programs)")
    cpu_axes.set_xticks(range(len(stacks)), stacks, rotation=15, ha="right")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def reload(path, out):
    result = json.loads(path.read_text())
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for kind in dict.fromkeys(run["reload"] for run in result["runs"]):
        runs = [run for run in result["runs"] if run["reload"] == kind]
        workers = [run["workers"] for run in runs]
        axes.plot(workers, [run["reload_median_s"] for run in runs], marker="o", label=kind)
        for run in runs:
            axes.scatter(
                [run["workers"]] * len(run["reload_s"]), run["reload_s"], s=8, color="grey"
            )
            axes.annotate(
                f"{run['failed']} failed / {run['requests']}",
                (run["workers"], run["reload_median_s"]),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, 4),
            )
    axes.set_xlabel("workers")
    axes.set_xticks(sorted({run["workers"] for run in result["runs"]}))
    axes.set_ylabel("reload wall time (s): median, and each reload")
    axes.set_ylim(bottom=0)
    axes.set_title(
        f"Graceful reload under load ({result['clients']} clients on {result['url']})", fontsize=9
    )
    axes.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def deploy(path, out):
    result = json.loads(path.read_text())
    medians = result["medians"]
    names = list(medians)
    figure, axes = plt.subplots(figsize=(9, 5))
    bars = axes.barh(names, [medians[name] for name in names], color="tab:blue")
    for patch, name in zip(bars, names):
        axes.annotate(
            f"{medians[name]:.1f} s",
            (patch.get_width(), patch.get_y() + patch.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
        )
    axes.invert_yaxis()
    axes.set_xlabel(f"seconds, median of the runs (one run for the cold {result['hosts']} hosts)")
    axes.set_title(
        f"site.yml over SSH with sudo, {result['date'][:10]}, {result['machine']['nproc']} cores"
    )
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main():
    PLOTS.mkdir(exist_ok=True)
    drawn = []
    for name, draw, out in (
        ("serving.json", serving, "serving.png"),
        ("reload-workers.json", reload, "reload.png"),
        ("deploy-speed.json", deploy, "deploy.png"),
    ):
        if (RESULTS / name).exists():
            draw(RESULTS / name, PLOTS / out)
            drawn.append(str(PLOTS / out))
    print("\n".join(drawn) or "no results to draw")


if __name__ == "__main__":
    main()
