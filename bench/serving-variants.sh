#!/usr/bin/env bash
# Variants beside the stacks that bench/serving.sh deploys, each on its own nginx port of
# the same container so that one run measures them with the others (serving.sh calls this
# script; it does not change the roles):
#   port 81 of bench-serve-chaussette: Chaussette with its per-request access log line, as
#     django_app_access_log: true writes it (a second watcher on Circus socket
#     127.0.0.1:8001, pre-hook bench_access_log.serve);
#   port 81 of bench-serve-gunicorn: one gunicorn master with 2 workers on the Circus
#     socket (numprocesses 1, --workers 2), as the classic stack runs it;
#   port 81 of bench-serve-uvicorn: nginx keeps connections to the upstream open
#     (keepalive 16, HTTP/1.1), the one server of the three that can reuse them.
set -euo pipefail

circusctl() {
    docker exec "$1" /opt/circus/bin/circusctl --endpoint ipc:///run/circus/circusd.sock --timeout 60 "${@:2}"
}

# A copy of the demo's watcher and socket named NAME on PORT, its command edited by the
# sed expression EDIT, and an nginx site on LISTEN to it.
variant_watcher() {
    local container=$1 name=$2 port=$3 listen=$4 edit=$5
    docker exec "$container" sh -c "
        sed -e 's/^\[watcher:demo\]/[watcher:$name]/' -e 's/circus\.sockets\.demo)/circus.sockets.$name)/' \
            -e 's/demo\.\(stdout\|stderr\)\.log/$name.\1.log/' -e '$edit' \
            /etc/circus/conf.d/demo.ini >/etc/circus/conf.d/$name.ini
        sed -e 's/^\[socket:demo\]/[socket:$name]/' -e 's/^port = .*/port = $port/' \
            /etc/circus/conf.d/demo.socket.ini >/etc/circus/conf.d/$name.socket.ini"
    circusctl "$container" reloadconfig >/dev/null
    variant_site "$container" "$name" "$listen" "127.0.0.1:$port" ""
}

# A copy of the demo's nginx site named NAME on LISTEN, proxying to UPSTREAM, with the
# lines of EXTRA added to the upstream block.
variant_site() {
    local container=$1 name=$2 listen=$3 upstream=$4 extra=$5
    docker exec "$container" sh -c "
        sed -e 's/listen 80[^;]*;/listen $listen;/' -e 's/webstack_demo\b/webstack_$name/g' \
            -e 's/server 127\.0\.0\.1:8000 /server $upstream /' $extra \
            /etc/nginx/sites-available/demo.conf >/etc/nginx/sites-enabled/$name.conf
        nginx -t -q && systemctl reload nginx"
    for _ in $(seq 30); do
        if docker exec "$container" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$listen/ping', timeout=5)" 2>/dev/null; then
            return 0
        fi
        sleep 1
    done
    echo "$container: variant $name does not answer on port $listen" >&2
    return 1
}

docker exec -i bench-serve-chaussette sh -c 'cat >/srv/demo/lib/bench_access_log.py' <<'PYTHON'
"""Chaussette pre-hook for bench/serving-variants.sh: the role's hook (drain, readiness)
with wsgiref's access log line per request on stderr, which Circus carries to a file
(what django_app_access_log: true does through the environment file)."""
import os

import webstack_worker


def serve(args=None):
    os.environ["WEBSTACK_ACCESS_LOG"] = "1"
    webstack_worker.serve(args)
PYTHON
variant_watcher bench-serve-chaussette demo_access_log 8001 81 's/--pre-hook webstack_worker\.serve /--pre-hook bench_access_log.serve /'
variant_watcher bench-serve-gunicorn demo_one_master 8001 81 's/--workers 1 /--workers 2 /; s/^numprocesses = .*/numprocesses = 1/'
variant_site bench-serve-uvicorn demo_keepalive 81 127.0.0.1:8000 \
    "-e '/max_fails=3/a\\    keepalive 16;' -e '/proxy_pass /a\\        proxy_http_version 1.1;\\n        proxy_set_header Connection \"\";'"
echo "variants answer on port 81 of bench-serve-chaussette, -gunicorn and -uvicorn"
