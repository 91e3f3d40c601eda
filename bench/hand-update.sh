#!/usr/bin/env bash
# A code change deployed by hand, as a careful person does it with a shell script, on a
# host that site.yml deployed (bench/ssh-hosts.sh's inventory: SSH as `deploy`, sudo):
# ship the code into a new release directory, pip install -r (satisfied: the release
# shares the virtualenv), migrate, collectstatic, publish the static files, switch
# `current`, reload the workers gracefully (Circus's own reload: new workers first), and
# wait until the site serves the page that holds MARK.
# Usage: hand-update.sh HOST_IP SOURCE MARK   (the key is build/bench/ssh/id_ed25519)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ip=$1 source=$2 mark=$3
ssh_to() {
    ssh -q -i "$root/build/bench/ssh/id_ed25519" -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o BatchMode=yes "deploy@$ip" "$@"
}

tar -C "$source" --exclude=./inventory -czf - . | ssh_to 'cat >/tmp/code.tar.gz'
ssh_to sudo bash -s -- "$mark" <<'ON_HOST'
set -euo pipefail
mark=$1
home=/srv/demo
release=$home/releases/hand-$(date +%s%N)
as_app=(python3 -I "$home/lib/webstack_run.py" "$home/environment.json" --user demo --)
mkdir -p "$release/app" "$release/static"
tar -C "$release/app" -xzf /tmp/code.tar.gz
ln -s "$(readlink -f "$home/current/venv")" "$release/venv"
chown demo:demo "$release/static"
"$release/venv/bin/pip" install --quiet --disable-pip-version-check -r "$release/app/requirements.txt"
cd "$release/app"
"${as_app[@]}" "$release/venv/bin/python" -m django migrate --noinput >/dev/null
"${as_app[@]}" "$release/venv/bin/python" -m django collectstatic --noinput >/dev/null
cp -r "$release/static/." "$home/static/"
ln -sfn "$release" "$home/current.new" && mv -T "$home/current.new" "$home/current"
/opt/circus/bin/circusctl --endpoint ipc:///run/circus/circusd.sock reload demo --waiting >/dev/null
for _ in $(seq 600); do
    python3 -c 'import sys, urllib.request; sys.exit(sys.argv[1] not in urllib.request.urlopen("http://127.0.0.1/", timeout=5).read().decode())' "$mark" 2>/dev/null && exit 0
    sleep 0.1
done
echo "the site did not serve $mark within 60 s" >&2
exit 1
ON_HOST
