#!/usr/bin/env bash
# Serving through nginx on port 80 with 2 workers, all stacks in one run: the demo
# deployed by site.yml on Chaussette, gunicorn and uvicorn (bench/inventory/hosts.yml, one
# container each), the hand-written nginx -> gunicorn stack (bench/classic-stack.sh), and
# nginx serving a static file. wrk runs on the host against each container's address on
# the Docker bridge, which spares the load the docker-proxy hop of a published port (a
# process that would compete for the same two cores). Also measured in the same run: the
# variants of bench/serving-variants.sh (DB page only). Writes
# bench/results/classic-stack.json (its provisioning time) and serving.json.
# DURATION (s per pass, default 10), ROUNDS (3), CONNECTIONS (16) change the run;
# DEPLOY=0 measures the containers as they run (no site.yml, no new classic stack).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$root/bench/lib.sh"
cd "$root"

"$root/scripts/docker-engine.sh"
"$root/scripts/base-images.sh" bookworm >/dev/null
bench_need_wrk

stacks=(chaussette gunicorn uvicorn)
if [ "${DEPLOY:-1}" != 0 ]; then
    for stack in "${stacks[@]}"; do
        bench_container "bench-serve-$stack"
    done
    log=$(mktemp)
    ansible-playbook -i bench/inventory/hosts.yml site.yml >"$log" 2>&1 || {
        tail -n 40 "$log" >&2
        exit 1
    }
    rm -f "$log"
    # After the site.yml run, not beside it: its time is the cold deploy anchor.
    bench/classic-stack.sh bench-serve-classic | tee bench/results/classic-stack.json
    bench/serving-variants.sh
fi

cases=()
containers=(bench-serve-classic)
classic=$(bench_address bench-serve-classic)
cases+=(--case "classic gunicorn (TCP)" page "http://$classic/" --case "classic gunicorn (TCP)" ping "http://$classic/ping")
for stack in "${stacks[@]}"; do
    address=$(bench_address "bench-serve-$stack")
    cases+=(--case "ours: $stack" page "http://$address/" --case "ours: $stack" ping "http://$address/ping")
    containers+=("bench-serve-$stack")
done
chaussette=$(bench_address bench-serve-chaussette)
stylesheet=$(docker exec bench-serve-chaussette sh -c 'cd /srv/demo/static && ls greetings/site.*.css | head -n 1')
cases+=(--case "nginx static file" static "http://$chaussette/static/$stylesheet")
for stack in chaussette gunicorn uvicorn; do
    address=$(bench_address "bench-serve-$stack")
    case $stack in
        chaussette) variant="variant: chaussette, access log on" ;;
        gunicorn) variant="variant: gunicorn, 1 master x 2 workers" ;;
        uvicorn) variant="variant: uvicorn, upstream keepalive" ;;
    esac
    cases+=(--case "$variant" page "http://$address:81/")
done
container_args=()
for container in "${containers[@]}"; do
    container_args+=(--container "$container")
done

python3 bench/serving.py "${cases[@]}" "${container_args[@]}" \
    --duration "${DURATION:-10}" --rounds "${ROUNDS:-3}" --connections "${CONNECTIONS:-16}" \
    --out bench/results/serving.json
