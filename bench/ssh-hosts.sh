#!/usr/bin/env bash
# Hosts reached as users reach theirs: Debian 12 systemd containers running sshd, key
# authentication as the user `deploy`, root through sudo. The deploy-speed benchmarks run
# site.yml against them over SSH instead of docker exec.
# Usage: ssh-hosts.sh up N    start bench-ssh-1..N (kept if running), write the inventory
#        ssh-hosts.sh down    remove every bench-ssh-* container
# The inventory (build/bench/ssh/hosts.yml, every host in app and proxy, the demo's
# group_vars) and the key pair are written under build/bench/ssh/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/build/bench/ssh
image=webstack-circus/debian-sshd:bookworm

if [ "${1:-}" = down ]; then
    # No engine running: no container to remove.
    docker info >/dev/null 2>&1 || exit 0
    docker ps -aq --filter name=^bench-ssh- | xargs --no-run-if-empty docker rm -f >/dev/null
    exit 0
fi
if [ "${1:-}" != up ] || [ -z "${2:-}" ]; then
    echo "usage: $0 up N | down" >&2
    exit 2
fi
count=$2

"$root/scripts/docker-engine.sh"
"$root/scripts/base-images.sh" bookworm
mkdir -p "$work"
[ -f "$work/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C webstack-bench -f "$work/id_ed25519"

# The image is rebuilt when the base image or the key changes.
recipe=$( (docker image inspect -f '{{.Id}}' webstack-circus/debian:bookworm; cat "$work/id_ed25519.pub") | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "webstack.recipe" }}' "$image" 2>/dev/null || true)" != "$recipe" ]; then
    context=$(mktemp -d)
    cp "$work/id_ed25519.pub" "$context/authorized_keys"
    cat >"$context/Dockerfile" <<DOCKERFILE
FROM webstack-circus/debian:bookworm
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server sudo \\
 && apt-get clean \\
 && useradd --create-home --shell /bin/bash deploy \\
 && echo 'deploy ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/deploy \\
 && chmod 0440 /etc/sudoers.d/deploy \\
 && install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh
COPY authorized_keys /home/deploy/.ssh/authorized_keys
RUN chown deploy:deploy /home/deploy/.ssh/authorized_keys && chmod 0600 /home/deploy/.ssh/authorized_keys
LABEL webstack.recipe=$recipe
DOCKERFILE
    docker build -q -t "$image" "$context" >/dev/null
    rm -rf "$context"
fi

for n in $(seq 1 "$count"); do
    name=bench-ssh-$n
    [ -n "$(docker ps -q --filter "name=^$name$")" ] && continue
    docker rm -f "$name" >/dev/null 2>&1 || true
    # NET_ADMIN: the django_app role loads an nftables table when a socket is not on loopback.
    docker run -d --name "$name" --hostname "$name" --cap-add NET_ADMIN \
        --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec \
        -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
        "$image" >/dev/null
done

{
    echo "# Written by bench/ssh-hosts.sh: the bench-ssh-* containers, over SSH with sudo."
    echo "all:"
    echo "  hosts:"
    for n in $(seq 1 "$count"); do
        ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "bench-ssh-$n")
        # Host variables: they win over the demo's group_vars (docker exec as root, no become).
        echo "    bench-ssh-$n:"
        echo "      ansible_host: $ip"
        echo "      ansible_user: deploy"
        echo "      ansible_become: true"
        echo "      ansible_python_interpreter: /usr/bin/python3"
        echo "      ansible_ssh_private_key_file: $work/id_ed25519"
        echo "      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        echo "      django_app_source: $root/demo"
        # Each host is its own proxy, on the loopback (deploy.yml's name for it there).
        echo "      deploy_upstream_host: 127.0.0.1"
    done
    echo "  children:"
    for group in app proxy; do
        echo "    $group:"
        echo "      hosts:"
        for n in $(seq 1 "$count"); do echo "        bench-ssh-$n:"; done
    done
} >"$work/hosts.yml"
ln -sfn "$root/demo/inventory/group_vars" "$work/group_vars"

for n in $(seq 1 "$count"); do
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "bench-ssh-$n")
    for _ in $(seq 60); do
        ssh -q -i "$work/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
            -o BatchMode=yes -o ConnectTimeout=2 "deploy@$ip" sudo -n systemctl is-system-running 2>/dev/null \
            | grep -qE '^(running|degraded)$' && break
        sleep 1
    done
done
echo "$work/hosts.yml"
