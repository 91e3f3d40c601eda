#!/usr/bin/env bash
# `make galaxy`: build the collection tarball as it would be published and import it with
# galaxy-importer (the code Galaxy runs on an upload), configured by galaxy-importer.cfg.
# Fails when the import fails or reports any warning or error: the importer itself exits 0
# after logging them, so its log is read here.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV_GALAXY:-$root/.venv-galaxy}
out=$root/build/galaxy
rm -rf "$out"
mkdir -p "$out"

# The importer installs the tarball into a directory of its own and runs ansible-doc and
# ansible-lint there; the working tree must not be seen.
unset PYTHONPATH ANSIBLE_COLLECTIONS_PATH
export PATH=$venv/bin:$PATH
export GALAXY_IMPORTER_CONFIG=$root/galaxy-importer.cfg

ansible-galaxy collection build --output-path "$out" "$root" >/dev/null
tarball=$(echo "$out"/webstack-circus-*.tar.gz)

cd "$out"
status=0
python -m galaxy_importer.main "$tarball" >import.log 2>&1 || status=$?
cat import.log

problems=$(grep -E '^(WARNING|ERROR|CRITICAL):' import.log || true)
if [ "$status" -ne 0 ] || [ -n "$problems" ] ||
    ! grep -qx 'Importer processing completed successfully' import.log; then
    echo "galaxy-importer: the import of $(basename "$tarball") is not clean (exit $status):" >&2
    echo "${problems:-see the log above}" >&2
    exit 1
fi

# What Galaxy would list: every role with its description and README, every playbook.
python - importer_result.json <<'PY'
import json
import sys

result = json.load(open(sys.argv[1]))
listed = {(item["content_type"], item["name"]): item for item in result["contents"]}
documented = {(item["content_type"], item["content_name"]): item for item in result["docs_blob"]["contents"]}
missing = []
for role in ("circus", "django_app", "nginx_proxy"):
    if not (listed.get(("role", role)) or {}).get("description"):
        missing.append(f"role {role}'s description")
    if not (documented.get(("role", role)) or {}).get("readme_html"):
        missing.append(f"role {role}'s README")
for playbook in ("site.yml", "deploy.yml", "rollback.yml", "preflight.yml"):
    if ("playbook", playbook) not in listed:
        missing.append(f"playbook {playbook}")
if missing:
    sys.exit("galaxy-importer's result lacks: " + ", ".join(missing))
print("galaxy-importer: clean import; roles (with descriptions and READMEs) and playbooks listed")
PY
