#!/usr/bin/env bash
# Every benchmark of this folder that a fresh machine can run in one go, then the
# figures: serving (with the classic stack's provisioning time and the variants), reloads
# of 2, 4 and 8 workers under load, what a module call costs (about 15 min on two cores),
# deploy time over SSH (bench/deploy_speed.py: 10 hosts, about 30 min more) and a rolling
# deploy of two app hosts under load (bench/rolling_deploy.py).
# Containers are named bench-serve-* and bench-ssh-*; they are removed at the end unless KEEP=1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/build/collections}

cleanup() {
    if [ "${KEEP:-0}" != 1 ]; then
        for name in bench-serve-chaussette bench-serve-gunicorn bench-serve-uvicorn bench-serve-classic; do
            docker rm -f "$name" >/dev/null 2>&1 || true
        done
        bash bench/ssh-hosts.sh down
    fi
}
trap cleanup EXIT

start=$(date +%s)
bench/serving.sh
chaussette=$(docker inspect -f '{{ .NetworkSettings.IPAddress }}' bench-serve-chaussette)
python3 bench/reload_workers.py --container bench-serve-chaussette \
    --inventory bench/inventory/hosts.yml --url "http://$chaussette/" \
    --out bench/results/reload-workers.json
python3 bench/module_cost.py --container bench-serve-chaussette \
    --inventory bench/inventory/hosts.yml --out bench/results/module-cost.json
python3 bench/deploy_speed.py --hosts 8 --runs 3
python3 bench/rolling_deploy.py --runs 3
python3 bench/plot.py
echo "bench/run-all.sh took $(($(date +%s) - start)) s"
