#!/usr/bin/env bash
# Build the collection artifact as a user would get it, install it into an empty
# collections path, and check that ansible-doc shows every module's complete docs and
# that ansible-playbook finds the collection's playbooks by their names.
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

# check TYPE NAME TEXT...: ansible-doc -t TYPE NAME shows every TEXT.
check() {
    local type=$1 name=$2
    shift 2
    local text
    text=$(ansible-doc -t "$type" "$name")
    for expected in "$@"; do
        if ! grep -qF -- "$expected" <<<"$text"; then
            echo "ansible-doc -t $type $name lacks: $expected" >&2
            exit 1
        fi
    done
    echo "ansible-doc -t $type $name: complete"
}

# Every module the collection ships has its complete documentation...
for module in "$root"/plugins/modules/*.py; do
    check module "webstack.circus.$(basename "$module" .py)" "OPTIONS" "ATTRIBUTES" "EXAMPLES" \
        "RETURN VALUES"
done
# ...and these name what their users look for.
check module webstack.circus.circus_watcher "OPTIONS" "ATTRIBUTES" "EXAMPLES" "RETURN VALUES" \
    "numprocesses" "sequential" "circusctl_path" "endpoint" "started_pids"
check module webstack.circus.circus_info "OPTIONS" "ATTRIBUTES" "EXAMPLES" "RETURN VALUES" \
    "stats" "sockets" "watchers"
check module webstack.circus.nginx_upstream "OPTIONS" "ATTRIBUTES" "EXAMPLES" "RETURN VALUES" \
    "servers" "drained" "validate" "reload_command" "upstreams" "kept"
check module webstack.circus.run_record "OPTIONS" "ATTRIBUTES" "EXAMPLES" "RETURN VALUES" \
    "fingerprint" "units" "converged" "differing_files"
check module webstack.circus.wheelhouse "OPTIONS" "ATTRIBUTES" "EXAMPLES" "RETURN VALUES" \
    "python_version" "glibc" "requirement_files" "platforms" "host_path"
check module webstack.circus.app_workers "release" "loaded" "ready_timeout" "restored" "previous"
check module webstack.circus.app_build "venv_install" "pip_index_url" "wheelhouse" "venv_complete"
check role webstack.circus.circus "circus_version" "circus_endpoint" "circus_include_dir" \
    "circus_wheelhouse" "circus_pip_index_url"
check role webstack.circus.django_app "django_app_name" "django_app_source" \
    "django_app_numprocesses" "django_app_secret_env" "django_app_migrate"
check role webstack.circus.nginx_proxy "nginx_proxy_sites" "upstreams" "static_root" \
    "nginx_proxy_media_inline_types" "nginx_proxy_frame_options" "nginx_proxy_tls"

# The installed collection, not this checkout, offers the playbooks: run from an empty
# directory, with the demo inventory.
for playbook in site deploy rollback preflight manage maintenance; do
    (cd "$out" && ansible-playbook --syntax-check -i "$root/demo/inventory/hosts.yml" \
        "webstack.circus.$playbook" >/dev/null) || {
        echo "the installed collection does not offer webstack.circus.$playbook" >&2
        exit 1
    }
    echo "ansible-playbook webstack.circus.$playbook --syntax-check: found in the installed collection"
done

if tar -tzf "$out"/dist/webstack-circus-*.tar.gz | grep -E '^(tests|build|\.venv[^/]*|scripts|bench|\.pytest_cache)/|^(site|deploy|rollback)\.yml$'; then
    echo "the artifact holds development files (see build_ignore in galaxy.yml)" >&2
    exit 1
fi
