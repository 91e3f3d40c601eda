#!/usr/bin/env bash
# A rolling deploy of a code change, and a scale from 2 to 4 workers and back, each under
# load through nginx (make demo's container), with the drain on as deployed by default.
# Writes bench/results/deploy-code-change-work.json and scale-2-4-2-work.json.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
circusctl=$(python3 "$root/tests/circus_paths.py" --vars "$root/demo/inventory/group_vars/all.yml" circusctl)
port=${DEMO_PORT:-8081}
clients=${CLIENTS:-16}
cd "$root"
"$root/scripts/demo.sh" >/dev/null

# Release 2: the demo with one more line on its page.
release=$(mktemp -d)
trap 'rm -rf "$release"' EXIT
cp -r demo/. "$release"
rm -rf "$release/inventory"
sed -i 's|<h1>webstack.circus demo</h1>|<h1>webstack.circus demo</h1>\n  <p>Release 2.</p>|' \
    "$release/greetings/templates/greetings/index.html"

deploy="ansible-playbook -i demo/inventory/hosts.yml deploy.yml -e django_app_source=$release"
python3 bench/reload_under_load.py --url "http://127.0.0.1:$port/work" --clients "$clients" \
    --duration 90 --interval 20 --times 1 --command "$deploy" \
    --out bench/results/deploy-code-change-work.json
curl -fsS "http://127.0.0.1:$port/" | grep -q "Release 2." || {
    echo "release 2 is not served after the deploy" >&2
    exit 1
}

cat >"$release/scale.sh" <<SCALE
set -e
$deploy -e '{"django_app_numprocesses": 4}'
docker exec webstack-demo $circusctl list demo
$deploy -e '{"django_app_numprocesses": 2}'
SCALE
python3 bench/reload_under_load.py --url "http://127.0.0.1:$port/work" --clients "$clients" \
    --duration 150 --interval 20 --times 1 --command "bash $release/scale.sh" \
    --out bench/results/scale-2-4-2-work.json

# Leave the demo as make demo deploys it.
ansible-playbook -i demo/inventory/hosts.yml site.yml >/dev/null
