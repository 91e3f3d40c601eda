#!/usr/bin/env bash
# Make sure a Docker engine answers: install it from the distribution and start one
# dockerd in the background if none runs. Safe to run again.
set -euo pipefail

log=/var/log/webstack-dockerd.log

if docker info >/dev/null 2>&1; then
    exit 0
fi
if ! command -v dockerd >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io containerd runc iptables
fi
# A daemon killed without a clean shutdown leaves its pid file; dockerd refuses to start
# while the file names a live process, so remove it only when that process is gone.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi
setsid nohup dockerd >"$log" 2>&1 </dev/null &
for _ in $(seq 60); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    sleep 1
done
echo "dockerd did not answer within 60 s; the end of $log:" >&2
tail -n 30 "$log" >&2
exit 1
