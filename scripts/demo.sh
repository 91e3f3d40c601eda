#!/usr/bin/env bash
# `make demo`: deploy the demo Django app with site.yml into a local systemd container
# and print the URL where it answers through nginx. Running it again converges the same
# container (idempotent); scripts/demo.sh clean removes it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
name=webstack-demo
release=${DEMO_RELEASE:-bookworm}
# Port 8080 on this machine's loopback is taken by another process.
port=${DEMO_PORT:-8081}

if [ "${1:-}" = clean ]; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    echo "removed container $name"
    exit 0
fi

"$root/scripts/docker-engine.sh"
"$root/scripts/base-images.sh" "$release"

if [ -z "$(docker ps -q --filter "name=^$name$")" ]; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" --hostname "$name" \
        --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec \
        -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
        -p "127.0.0.1:$port:80" \
        "webstack-circus/debian:$release" >/dev/null
fi
for _ in $(seq 60); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) break ;; esac
    sleep 1
done

cd "$root"
ansible-playbook -i demo/inventory/hosts.yml site.yml

# The demo's admin, made once with webstack.circus.manage: its password, new and random,
# goes to the command in manage_env from a file only root reads, and is printed here once.
vars_file=$(mktemp)
trap 'rm -f "$vars_file"' EXIT
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
printf '{"manage": ["createsuperuser", "--noinput", "--username", "admin", "--email", "admin@demo.test"], "manage_env": {"DJANGO_SUPERUSER_PASSWORD": "%s"}}\n' \
    "$password" >"$vars_file"
if output=$(ansible-playbook -i demo/inventory/hosts.yml webstack.circus.manage -e "@$vars_file" 2>&1); then
    admin="user admin, password $password (shown this once)"
elif grep -q "That username is already taken" <<<"$output"; then
    admin="user admin, with the password printed when it was made"
else
    echo "$output" >&2
    exit 1
fi

url=http://127.0.0.1:$port/
for _ in $(seq 30); do
    if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" "$url" 2>/dev/null; then
        echo
        echo "The demo answers at $url; its admin at ${url}admin/: $admin."
        echo "Remove it with: make demo-clean"
        exit 0
    fi
    sleep 1
done
echo "The demo did not answer at $url" >&2
exit 1
