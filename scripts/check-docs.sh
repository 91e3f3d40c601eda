#!/usr/bin/env bash
# Build the collection artifact as a user would get it, install it into an empty
# collections path, and check that ansible-doc shows every module's complete docs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/docs
rm -rf "$out"
mkdir -p "$out/dist" "$out/collections"

# Only the installed artifact may be seen, not the working tree.
export ANSIBLE_COLLECTIONS_PATH=$out/collections
unset PYTHONPATH

ansible-galaxy collection build --output-path "$out/dist" "$root"
ansible-galaxy collection install --force --collections-path "$out/collections" \
    "$out"/dist/webstack-circus-*.tar.gz

check() {
    local plugin=$1
    shift
    local text
    text=$(ansible-doc "$plugin")
    for expected in "$@"; do
        if ! grep -qF -- "$expected" <<<"$text"; then
            echo "ansible-doc $plugin lacks: $expected" >&2
            exit 1
        fi
    done
    echo "ansible-doc $plugin: complete"
}

check webstack.circus.circus_watcher "OPTIONS" "ATTRIBUTES" "EXAMPLES" "RETURN VALUES" \
    "numprocesses" "sequential" "circusctl_path" "endpoint" "started_pids"
check webstack.circus.circus_info "OPTIONS" "ATTRIBUTES" "EXAMPLES" "RETURN VALUES" \
    "stats" "sockets" "watchers"

if tar -tzf "$out"/dist/webstack-circus-*.tar.gz | grep -E '^(tests|build|\.venv|scripts)/'; then
    echo "the artifact holds development files (see build_ignore in galaxy.yml)" >&2
    exit 1
fi
