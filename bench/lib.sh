# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run): containers named bench-serve-*, the
# machine and the versions recorded with every result.

# A systemd container of the bookworm base image, as scripts/demo.sh starts it; one that
# runs already is kept (site.yml converges it again).
bench_container() {
    local name=$1
    shift
    if [ -z "$(docker ps -q --filter "name=^$name$")" ]; then
        docker rm -f "$name" >/dev/null 2>&1 || true
        docker run -d --name "$name" --hostname "$name" \
            --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec \
            -v /sys/fs/cgroup:/sys/fs/cgroup:ro "$@" \
            webstack-circus/debian:bookworm >/dev/null
    fi
    local state
    for _ in $(seq 60); do
        state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
        case "$state" in running | degraded) return 0 ;; esac
        sleep 1
    done
    echo "$name: systemd did not come up ($state)" >&2
    return 1
}

bench_address() {
    docker inspect -f '{{ .NetworkSettings.IPAddress }}' "$1"
}

# Load generator on the host: wrk from Debian.
bench_need_wrk() {
    command -v wrk >/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    }
}
