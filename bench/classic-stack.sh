#!/usr/bin/env bash
# The hand-written way, as a reference for bench/serving.sh and for cold deploy time:
# provisions a fresh Debian 12 container end to end with nginx -> gunicorn on TCP
# 127.0.0.1:8000 under a systemd unit, following the demo's README by hand (apt-get
# nginx python3-venv, a virtualenv, pip install -r demo/requirements.txt gunicorn,
# migrate, collectstatic, a unit, an nginx site). Prints one JSON line with its wall time.
# Usage: bench/classic-stack.sh [CONTAINER]   (default bench-serve-classic; replaced if it exists)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:-bench-serve-classic}
workers=${CLASSIC_WORKERS:-2}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$root/bench/lib.sh"

"$root/scripts/docker-engine.sh"
"$root/scripts/base-images.sh" bookworm >/dev/null

start=$(date +%s.%N)
docker rm -f "$name" >/dev/null 2>&1 || true
bench_container "$name"
booted=$(date +%s.%N)

docker exec "$name" mkdir -p /srv/classic
docker cp "$root/demo" "$name:/srv/classic/app" >/dev/null
docker exec -i -e WORKERS="$workers" "$name" bash -s <<'PROVISION'
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq nginx python3-venv >/dev/null

useradd --system --home-dir /srv/classic --shell /usr/sbin/nologin classic
mkdir -p /srv/classic/data /srv/classic/static
cat >/srv/classic/env <<ENV
DJANGO_SECRET_KEY=classic-bench-only-not-secret
DJANGO_ALLOWED_HOSTS=*
DJANGO_DB_PATH=/srv/classic/data/db.sqlite3
DJANGO_STATIC_ROOT=/srv/classic/static
DJANGO_STATIC_MANIFEST=true
ENV
python3 -m venv /srv/classic/venv
/srv/classic/venv/bin/pip install -q -r /srv/classic/app/requirements.txt gunicorn==27.0.1
cd /srv/classic/app
set -a
. /srv/classic/env
set +a
/srv/classic/venv/bin/python manage.py migrate --noinput >/dev/null
/srv/classic/venv/bin/python manage.py collectstatic --noinput >/dev/null
chown -R classic:classic /srv/classic/data

cat >/etc/systemd/system/classic.service <<UNIT
[Unit]
Description=gunicorn for the demo
After=network.target

[Service]
User=classic
Group=classic
WorkingDirectory=/srv/classic/app
EnvironmentFile=/srv/classic/env
ExecStart=/srv/classic/venv/bin/gunicorn --workers $WORKERS --bind 127.0.0.1:8000 mysite.wsgi:application
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now classic.service

cat >/etc/nginx/sites-available/classic <<'SITE'
server {
    listen 80 default_server;
    server_name _;
    location /static/ {
        alias /srv/classic/static/;
        expires 30d;
    }
    location / {
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }
}
SITE
rm -f /etc/nginx/sites-enabled/default
ln -sf /etc/nginx/sites-available/classic /etc/nginx/sites-enabled/classic
nginx -t -q
systemctl reload nginx
for _ in $(seq 30); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1/', timeout=5)" 2>/dev/null; then
        exit 0
    fi
    sleep 1
done
echo "the classic stack does not answer on port 80" >&2
exit 1
PROVISION
end=$(date +%s.%N)
python3 -c 'import json, sys
start, booted, end = map(float, sys.argv[2:5])
print(json.dumps({"container": sys.argv[1], "seconds": round(end - start, 1),
                  "boot_seconds": round(booted - start, 1), "provision_seconds": round(end - booted, 1)}))' \
    "$name" "$start" "$booted" "$end"
