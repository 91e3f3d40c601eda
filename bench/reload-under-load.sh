#!/usr/bin/env bash
# Reloads under load, with and without the workers' drain: deploys the demo (make demo's
# container), then for each setting of django_app_drain sends requests through nginx
# while the app's watcher is reloaded gracefully every few seconds, and writes
# bench/results/reload-drain-{on,off}-{page,work}.json. Bounded: CLIENTS clients for
# DURATION seconds per run, only to the container's published port on loopback.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${DEMO_PORT:-8081}
clients=${CLIENTS:-16}
duration=${DURATION:-20}
circusctl=$(python3 "$root/tests/circus_paths.py" --vars "$root/demo/inventory/group_vars/all.yml" circusctl)
reload="docker exec webstack-demo $circusctl --timeout 60 reload demo --waiting"

cd "$root"
"$root/scripts/demo.sh" >/dev/null
for drain in on off; do
    flag=$([ "$drain" = on ] && echo true || echo false)
    ansible-playbook -i demo/inventory/hosts.yml site.yml -e "{\"django_app_drain\": $flag}" >/dev/null
    for target in page:/ work:/work; do
        name=${target%%:*}
        path=${target#*:}
        python3 bench/reload_under_load.py --url "http://127.0.0.1:$port$path" \
            --command "$reload" --clients "$clients" --duration "$duration" --interval 5 \
            --out "bench/results/reload-drain-$drain-$name.json"
    done
done
# Leave the demo as make demo deploys it.
ansible-playbook -i demo/inventory/hosts.yml site.yml >/dev/null
