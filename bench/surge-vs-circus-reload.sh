#!/usr/bin/env bash
# Readiness: Circus's graceful reload against circus_watcher's surge reload, under load.
# Deploys the demo (make demo's container, drain on), then for each kind of reload sends
# requests through nginx while the app's watcher is reloaded every few seconds, and
# writes bench/results/reload-{circus,surge}-{page,work}.json with the requests' latency.
# Bounded: CLIENTS clients for DURATION seconds per run, only to the container's
# published port on loopback.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${DEMO_PORT:-8081}
clients=${CLIENTS:-16}
duration=${DURATION:-30}
{ read -r circusctl; read -r endpoint; read -r circusctl_path; } < <(
    python3 "$root/tests/circus_paths.py" --vars "$root/demo/inventory/group_vars/all.yml" \
        circusctl circus_endpoint circusctl_path
)
circus="docker exec webstack-demo $circusctl --timeout 60 reload demo --waiting"
surge="ansible webstack-demo -i demo/inventory/hosts.yml -m webstack.circus.circus_watcher -a '{\"name\": \"demo\", \"state\": \"reloaded\", \"surge\": true, \"ready_dir\": \"/srv/demo/ready\", \"endpoint\": \"$endpoint\", \"circusctl_path\": \"$circusctl_path\"}'"

cd "$root"
"$root/scripts/demo.sh" >/dev/null
for kind in circus surge; do
    command=$([ "$kind" = circus ] && echo "$circus" || echo "$surge")
    for target in page:/ work:/work; do
        name=${target%%:*}
        path=${target#*:}
        python3 bench/reload_under_load.py --url "http://127.0.0.1:$port$path" \
            --command "$command" --clients "$clients" --duration "$duration" --interval 6 \
            --out "bench/results/reload-$kind-$name.json"
    done
done
