#!/usr/bin/env bash
# pip against uv for what the django_app role does to a virtualenv: create it and install
# the demo's requirements with the role's server (Chaussette), in a Debian 12 container
# from scripts/base-images.sh, with an empty cache (a cold host) and again with the cache
# the first install left (a new release whose requirements changed). Three rounds,
# alternating. uv is the pinned wheel from PyPI, installed into a virtualenv of its own;
# it reads the container's CA bundle (SSL_CERT_FILE), as pip does through Debian's certifi.
#
# Prints one JSON object (seconds of every run, medians, versions) and writes it to
# bench/results/uv-trial.json. Usage: bash bench/uv-trial.sh [RUNS]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
uv_version=0.13.8
name=bench-uv-trial
image=webstack-circus/debian:bookworm

"$root/scripts/docker-engine.sh" >/dev/null
"$root/scripts/base-images.sh" bookworm >/dev/null
docker rm -f "$name" >/dev/null 2>&1 || true
docker run -d --name "$name" "$image" sleep infinity >/dev/null
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker cp "$root/demo/requirements.txt" "$name:/requirements.txt"
chaussette=chaussette==$(sed -n 's/^django_app_chaussette_version: "\?\([0-9.]*\)"\?$/\1/p' \
    "$root/roles/django_app/defaults/main.yml")

in_container() { docker exec -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$name" bash -c "$1"; }

in_container "apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null"
in_container "python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet uv==$uv_version"

# Seconds one command takes in the container.
timed() {
    local start end
    start=$(date +%s.%N)
    in_container "$1" >/dev/null
    end=$(date +%s.%N)
    python3 -c "print(round($end - $start, 2))"
}

pip_install="python3 -m venv \$V && \$V/bin/pip install --quiet --disable-pip-version-check"
# --compile-bytecode: pip writes the .pyc files at install; the virtualenv is root's
# afterwards, so workers running as the app's user could not write them later.
uv_install="/opt/uv/bin/uv venv --quiet \$V && /opt/uv/bin/uv pip install --quiet --compile-bytecode --python \$V/bin/python"
declare -A seconds
for round in $(seq "$runs"); do
    for tool in pip uv; do
        cache=/cache/$tool-$round
        if [ "$tool" = pip ]; then command=$pip_install; env="PIP_CACHE_DIR=$cache"
        else command=$uv_install; env="UV_CACHE_DIR=$cache"; fi
        for kind in cold warm; do
            venv=/venvs/$tool-$round-$kind
            seconds[$tool $kind]+="$(timed "export $env V=$venv; $command $chaussette -r /requirements.txt") "
        done
    done
done

# Every virtualenv holds what the app imports (a failed install would have timed too).
# shellcheck disable=SC2016 # expanded in the container
in_container 'for venv in /venvs/*; do
    "$venv/bin/python" -c "import chaussette, django, dj_database_url, psycopg" || exit 1
done'

python3 - "$runs" "$uv_version" "$root/bench/results/uv-trial.json" \
    "${seconds[pip cold]}" "${seconds[pip warm]}" "${seconds[uv cold]}" "${seconds[uv warm]}" <<'PY'
import json, os, statistics, sys, time
runs, uv, out, *columns = sys.argv[1:]
names = ["pip, empty cache", "pip, warm cache", "uv, empty cache", "uv, warm cache"]
result = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "machine": {"nproc": os.cpu_count(), "load_average_after": list(os.getloadavg())},
    "uv": uv,
    "runs": {name: [float(s) for s in column.split()] for name, column in zip(names, columns)},
}
result["medians"] = {name: statistics.median(v) for name, v in result["runs"].items()}
m = result["medians"]
result["ratios"] = {
    "uv / pip, empty cache": round(m["uv, empty cache"] / m["pip, empty cache"], 2),
    "uv / pip, warm cache": round(m["uv, warm cache"] / m["pip, warm cache"], 2),
}
with open(out, "w") as written:
    written.write(json.dumps(result, indent=2) + "\n")
print(json.dumps(result, indent=2))
PY
