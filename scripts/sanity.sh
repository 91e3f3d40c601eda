#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection, with no ignore files.
#
# ansible-test must run from an ansible_collections/NAMESPACE/NAME tree, so the files
# git knows (tracked and new, not ignored) are copied into one under build/.
# Its --venv mode bootstraps pip with a script it downloads from a host that is not
# reachable behind a closed proxy (ansible/ansible#77304); where that script is not in
# ansible-test's cache, a stand-in is put there that installs the same pip release
# from the configured package index instead.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
python=$venv/bin/python
tree=$root/build/sanity/ansible_collections/webstack/circus

pip_version=$("$python" - <<'PY'
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([^']+)'", source.read_text()).group(1))
PY
)
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$cache" ]; then
    wheels=$HOME/.ansible/test/cache/pip-$pip_version
    mkdir -p "$wheels"
    "$python" -m pip download --quiet --no-deps -d "$wheels" "pip==$pip_version"
    wheel=$(ls "$wheels"/pip-"$pip_version"-*.whl)
    cat > "$cache" <<PY
# Stand-in for get-pip.py written by webstack.circus scripts/sanity.sh:
# installs pip $pip_version from a wheel fetched through the configured package index.
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "$wheel/pip", "install"] + args))
PY
fi

rm -rf "$root/build/sanity"
mkdir -p "$tree"
cd "$root"
git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from=- --ignore-failed-read -cf - | tar -C "$tree" -xf -
cd "$tree"
# pyenv (where Python comes from on this kind of machine) hides its other versions unless
# asked; ansible-test drops PYENV_VERSION, so a .python-version in the copy names every 3.x,
# the current one first.
if command -v pyenv >/dev/null; then
    { pyenv version-name; pyenv versions --bare | grep -E '^3\.'; } > .python-version
fi
# ansible-test reads the file list from git: give the copy its own repository.
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
# Without --python, the tests that depend on the Python version (compile, import) run on
# every supported version found on the PATH, so module code is checked on the targets'.
"$venv/bin/ansible-test" sanity --venv "$@"
