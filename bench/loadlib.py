"""What the bench scripts share: the machine and versions recorded with each result, one
ansible-playbook runner, wrk runs parsed into numbers, and one HTTP load loop in Python
for runs that must count every failed request while something else happens (reloads,
deploys).

The load loop (`Load`) opens a new connection per request, so that a worker that drops
connections shows as failures, and keeps the latency of each successful request. The
fleet test can use it as is::

    sys.path.insert(0, str(PROJECT / "bench"))
    from loadlib import Load

    with Load("127.0.0.1", 18480, "/work", method="POST", clients=8, limit=600) as load:
        ...
    assert load.failed == 0
"""

import collections
import http.client
import json
import math
import os
import pathlib
import platform
import re
import resource
import statistics
import subprocess
import threading
import time


class Load:
    """CLIENTS threads sending METHOD PATH to HOST:PORT from the start of the block until
    its end (at most LIMIT seconds), counting outcomes ("ok" for a 2xx, "http 502",
    "ConnectionResetError"...) and the latency of the successful requests."""

    def __init__(self, host, port, path, method="GET", clients=16, limit=600.0):
        self.host, self.port, self.path, self.method = host, port, path, method
        self.clients, self.limit = clients, limit
        self.tally = collections.Counter()
        self.latencies = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = []

    def __enter__(self):
        self.deadline = time.monotonic() + self.limit
        self.threads = [threading.Thread(target=self.client) for _client in range(self.clients)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def client(self):
        body = b"" if self.method == "POST" else None
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            began = time.monotonic()
            try:
                connection.request(self.method, self.path, body=body)
                status = connection.getresponse().status
                outcome = "ok" if 200 <= status < 300 else f"http {status}"
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__
            finally:
                connection.close()
            with self.lock:
                self.tally[outcome] += 1
                if outcome == "ok":
                    self.latencies.append(time.monotonic() - began)

    @property
    def requests(self):
        return sum(self.tally.values())

    @property
    def failed(self):
        return sum(count for outcome, count in self.tally.items() if outcome != "ok")

    def latency_ms(self):
        """Median, 99th percentile and slowest successful request, in milliseconds."""
        if not self.latencies:
            return {}
        ordered = sorted(self.latencies)
        return {
            "p50": round(statistics.median(ordered) * 1000),
            "p99": round(ordered[math.ceil(len(ordered) * 0.99) - 1] * 1000),
            "max": round(ordered[-1] * 1000),
        }


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def duration_ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def parse_wrk(output):
    """Requests/s, latency percentiles (ms), requests and failures from `wrk --latency`."""
    result = {
        "rps": float(re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M).group(1)),
        "requests": int(re.search(r"^\s*(\d+) requests in", output, re.M).group(1)),
        "latency_ms": {
            f"p{percent}": round(duration_ms(value), 2)
            for percent, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M)
        },
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    result["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    result["socket_errors"] = sum(map(int, socket_errors.groups())) if socket_errors else 0
    result["failed"] = result["non_2xx"] + result["socket_errors"]
    return result


def wrk(url, duration, connections, threads=1, timeout=10):
    """One wrk pass; also the load generator's own CPU use, in cores (the machine has
    two, shared with what it measures)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    done = subprocess.run(
        [
            "wrk",
            "--latency",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            f"--timeout={timeout}s",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = parse_wrk(done.stdout)
    result["wrk_cpu_cores"] = round(cpu / elapsed, 2)
    return result


PROCESS_CPU = r"""
import collections, glob, json, os
ticks = os.sysconf("SC_CLK_TCK")
seconds = collections.Counter()
for stat in glob.glob("/proc/[0-9]*/stat"):
    try:
        with open(stat) as f:
            text = f.read()
        with open(stat.replace("/stat", "/cmdline"), "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        continue
    fields = text.rsplit(")", 1)[1].split()
    name = text[text.index("(") + 1:text.rindex(")")]
    # Python processes by what they run: circusd, chaussette, gunicorn, uvicorn...
    words = [os.path.basename(w.decode()) for w in argv if w and not w.startswith(b"-")]
    for word in words[1:4]:
        if word in ("circusd", "chaussette", "gunicorn", "uvicorn", "webstack_run.py"):
            name = word
    seconds[name] += (int(fields[11]) + int(fields[12])) / ticks
print(json.dumps(seconds))
"""


def process_cpu(container):
    """CPU seconds used so far by the processes of a container, by program name (the
    processes that ended since are not counted)."""
    return in_container(container, PROCESS_CPU)


def containers_cpu_seconds(containers):
    """CPU seconds the containers have used since they started, all processes included
    (those that ended too), summed: their cgroups' counters, cgroup v1 or v2."""
    ids = subprocess.run(
        ["docker", "inspect", "--format", "{{.Id}}", *containers],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    total = 0.0
    for container_id in ids:
        v1 = pathlib.Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage")
        if v1.exists():
            total += int(v1.read_text()) / 1e9
            continue
        for v2 in (f"system.slice/docker-{container_id}.scope", f"docker/{container_id}"):
            stat = pathlib.Path("/sys/fs/cgroup", v2, "cpu.stat")
            if stat.exists():
                usage = dict(line.split() for line in stat.read_text().splitlines())
                total += int(usage["usage_usec"]) / 1e6
                break
        else:
            raise SystemExit(f"no cgroup CPU counter found for container {container_id}")
    return round(total, 2)


def in_container(container, script):
    """What a Python script run inside the container prints, read as JSON."""
    done = subprocess.run(
        ["docker", "exec", "-i", container, "python3", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def cpu_model():
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def machine():
    return {"nproc": os.cpu_count(), "cpu_model": cpu_model(), "kernel": platform.release()}


def load_average():
    return [round(value, 2) for value in os.getloadavg()]


VERSIONS = r"""
import glob, importlib.metadata as m, json, subprocess, sys
def run(*argv):
    done = subprocess.run(argv, capture_output=True, text=True)
    return (done.stdout + done.stderr).strip()
def dist(python, name):
    return run(python, "-c", f"import importlib.metadata as m; print(m.version({name!r}))") or None
found = {"debian": open("/etc/debian_version").read().strip(),
         "nginx": run("nginx", "-v").split("/")[-1],
         "python": sys.version.split()[0]}
if glob.glob("/opt/circus/bin/python"):
    found["circus"] = dist("/opt/circus/bin/python", "circus")
for venv in sorted(glob.glob("/srv/**/bin/python", recursive=True)):
    for name in ("django", "chaussette", "gunicorn", "uvicorn"):
        version = dist(venv, name)
        if version and "No package" not in version and "Traceback" not in version:
            found[name] = version
print(json.dumps(found))
"""


def container_versions(container):
    """Debian, nginx, Python, Circus and the app's packages inside a container."""
    return in_container(container, VERSIONS)


def run_header():
    """What a deploy benchmark's result starts with: when, where, with what, how loaded."""
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "controller": controller_versions(),
        "load_average_before": load_average(),
    }


def playbook_env(root, **env):
    """The environment ansible-playbook runs in for the checkout at root."""
    return dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(root / "build/collections"),
        ANSIBLE_NOCOLOR="1",
        **env,
    )


def playbook(root, inventory, name, *args, **env):
    """Run the playbook `name` of the checkout at root (its own build/collections) and
    exit with its errors when it fails; its wall time in seconds and the recap's
    ok/changed/skipped counts summed over the hosts, and the CPU time the controller spent
    (ansible-playbook and the processes it waited for: its forks, ssh)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    run = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), name, *args],
        cwd=root,
        env=playbook_env(root, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    seconds = round(time.monotonic() - started, 2)
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = round(now.ru_utime - used.ru_utime + now.ru_stime - used.ru_stime, 2)
    if run.returncode != 0:
        errors = [line for line in run.stdout.splitlines() if "ERROR" in line or "fatal:" in line]
        raise SystemExit(
            f"{name} {' '.join(args)} failed ({root}):\n"
            + "\n".join(errors[-20:] or [run.stdout[-4000:]])
        )
    counts = collections.Counter()
    for line in run.stdout.splitlines():
        if " : ok=" in line:
            for item in line.split(":", 1)[1].split():
                key, value = item.split("=", 1)
                counts[key] += int(value)
    result = {
        "seconds": seconds,
        "controller_cpu_seconds": cpu,
        **{key: counts[key] for key in ("ok", "changed", "skipped")},
    }
    # With ansible.posix.profile_tasks enabled: its slowest tasks, as it lists them.
    slowest = re.findall(r"^(\S.*?) -{3,} (\d+\.\d+)s$", run.stdout, re.MULTILINE)
    if slowest:
        result["slowest_tasks"] = [[task, float(took)] for task, took in slowest]
    return result


def controller_versions():
    import ansible.release

    return {
        "ansible-core": ansible.release.__version__,
        "controller_python": platform.python_version(),
    }
