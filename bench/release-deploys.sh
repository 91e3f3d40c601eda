#!/usr/bin/env bash
# Deploy time of site.yml before and after release-based deploys, in one run: for each
# revision (BEFORE, default 6c69312, the last commit before releases; and the work tree),
# a fresh demo container gets a cold deploy, then RUNS no-op re-runs and RUNS code-only
# releases (one changed template line each), of the demo and of the demo with 500 more
# small modules. Connection: docker exec, as `make demo`. Writes one JSON line per run
# to bench/results/release-deploys.json.
# The 500-file project is skipped before releases unless LARGE_BEFORE=1: that revision
# copies one file per module round trip, about 2 s a file here, so each of its runs
# takes a quarter of an hour.
# Usage: bash bench/release-deploys.sh   (RUNS=3, BEFORE=<rev>, FILES=500, LARGE_BEFORE=0)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
before=${BEFORE:-6c69312}
files=${FILES:-500}
out=$root/bench/results/release-deploys.json
work=$(mktemp -d)
trap 'docker rm -f webstack-bench-release >/dev/null 2>&1 || true; git -C "$root" worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

export PATH=$root/.venv/bin:$PATH
"$root/scripts/docker-engine.sh"
"$root/scripts/base-images.sh" bookworm

git -C "$root" worktree add --detach "$work/before" "$before" >/dev/null

# The demo as a plain directory, and the same with FILES more modules.
mkdir -p "$work/src"
cp -r "$root/demo" "$work/src/small"
cp -r "$root/demo" "$work/src/large"
mkdir -p "$work/src/large/bulk"
touch "$work/src/large/bulk/__init__.py"
for n in $(seq -w 1 "$files"); do
    printf 'VALUE_%s = %s\n' "$n" "$n" >"$work/src/large/bulk/module_$n.py"
done

cat >"$work/hosts.yml" <<YAML
all:
  hosts:
    webstack-bench-release:
      ansible_connection: community.docker.docker
      ansible_python_interpreter: /usr/bin/python3
  children:
    app: {hosts: {webstack-bench-release: {}}}
    proxy: {hosts: {webstack-bench-release: {}}}
YAML
ln -s "$root/demo/inventory/group_vars" "$work/group_vars"

fresh_container() {
    docker rm -f webstack-bench-release >/dev/null 2>&1 || true
    docker run -d --name webstack-bench-release --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec \
        -v /sys/fs/cgroup:/sys/fs/cgroup:ro webstack-circus/debian:bookworm >/dev/null
    for _ in $(seq 60); do
        state=$(docker exec webstack-bench-release systemctl is-system-running 2>/dev/null || true)
        case "$state" in running | degraded) return ;; esac
        sleep 1
    done
}

# deploy REVISION_DIR LABEL SOURCE KIND RUN
deploy() {
    local tree=$1 label=$2 source=$3 kind=$4 run=$5 start end
    mkdir -p "$tree/build/collections/ansible_collections/webstack"
    ln -sfn "$tree" "$tree/build/collections/ansible_collections/webstack/circus"
    start=$(date +%s.%N)
    ANSIBLE_COLLECTIONS_PATH=$tree/build/collections ansible-playbook -i "$work/hosts.yml" \
        "$tree/site.yml" -e "django_app_source=$source" >"$work/last.log" 2>&1 || {
        tail -n 40 "$work/last.log" >&2
        exit 1
    }
    end=$(date +%s.%N)
    python3 - "$label" "$kind" "$run" "$start" "$end" "$work/last.log" >>"$out" <<'PY'
import json, re, sys
label, kind, run, start, end, log = sys.argv[1:]
recap = re.search(r"ok=(\d+)\s+changed=(\d+)", open(log).read())
print(json.dumps({"revision": label, "run": kind, "n": int(run),
                  "seconds": round(float(end) - float(start), 1),
                  "ok": int(recap[1]), "changed": int(recap[2])}))
PY
}

: >"$out"
for revision in before after; do
    tree=$root
    [ "$revision" = before ] && tree=$work/before
    for project in small large; do
        if [ "$revision$project" = beforelarge ] && [ "${LARGE_BEFORE:-0}" != 1 ]; then
            continue
        fi
        fresh_container
        source=$work/src/$project
        deploy "$tree" "$revision" "$source" "$project cold" 1
        for run in $(seq "$runs"); do
            deploy "$tree" "$revision" "$source" "$project no-op" "$run"
        done
        for run in $(seq "$runs"); do
            page=$source/greetings/templates/greetings/index.html
            sed -i "s|</h1>.*|</h1><!-- bench $revision $run -->|" "$page"
            deploy "$tree" "$revision" "$source" "$project code-only" "$run"
        done
    done
done
python3 - "$out" <<'PY'
import collections, json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
table = collections.defaultdict(list)
for row in rows:
    table[(row["run"], row["revision"])].append(row["seconds"])
for (run, revision), seconds in sorted(table.items()):
    print(f"{run:20} {revision:6} median {statistics.median(seconds):7.1f} s  {seconds}")
PY
