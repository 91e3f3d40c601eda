#!/usr/bin/env bash
# Build the systemd base images that Molecule and `make demo` run, without a container
# registry: debootstrap from the machine's own apt mirror, then a small Dockerfile.
# Usage: base-images.sh [RELEASE...]   (default: bookworm trixie)
# An image that exists is kept; FORCE=1 builds it again.
set -euo pipefail

releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(bookworm trixie)

# The mirror this machine's apt uses, read at run time (deb822 or one-line sources).
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -v -- '-security' | head -n 1 || true)
if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
    echo "no apt mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
    exit 1
fi

command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# An image records the hash of this script and of the CA certificates it was built with,
# so that a changed recipe rebuilds it instead of leaving an old image in the cache.
recipe=$(cat "$0" /usr/local/share/ca-certificates/*.crt 2>/dev/null | sha256sum | cut -c1-16)

for release in "${releases[@]}"; do
    image=webstack-circus/debian:$release
    built=$(docker image inspect -f '{{ index .Config.Labels "webstack.recipe" }}' "$image" 2>/dev/null || true)
    if [ "${FORCE:-0}" != 1 ] && [ "$built" = "$recipe" ]; then
        echo "$image is up to date"
        continue
    fi
    echo "building $image from $mirror"
    rootfs=$work/rootfs-$release
    debootstrap --variant=minbase --include=python3,ca-certificates "$release" "$rootfs" "$mirror" \
        >"$work/debootstrap-$release.log" 2>&1 || {
        tail -n 30 "$work/debootstrap-$release.log" >&2
        exit 1
    }
    tar -C "$rootfs" --numeric-owner -c . | docker import - "webstack-circus/rootfs:$release" >/dev/null
    rm -rf "$rootfs"

    context=$work/context-$release
    mkdir -p "$context/ca"
    # HTTPS from inside containers (pip) passes the same TLS-intercepting proxy as this
    # machine: the image trusts the machine's extra CA certificates.
    cp /usr/local/share/ca-certificates/*.crt "$context/ca/" 2>/dev/null || true
    # python3-apt (the apt module needs it in check mode) and the apt lists are kept, as on
    # a real Debian host.
    cat >"$context/Dockerfile" <<DOCKERFILE
FROM webstack-circus/rootfs:$release
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        systemd systemd-sysv dbus iproute2 python3-apt \\
 && apt-get clean \\
 && systemctl mask tmp.mount
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
LABEL webstack.recipe=$recipe
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
DOCKERFILE
    docker build -q -t "$image" "$context" >/dev/null
    echo "built $image"
done
