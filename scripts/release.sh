#!/usr/bin/env bash
# `make release`: the tarball that would be published, in build/release/. Refuses when
# galaxy.yml's version has no release in the changelog (antsibull-changelog release) or
# when a changelog fragment is left unreleased: what is published says what it holds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=$(python3 -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
if ! python3 -c 'import sys, yaml; sys.exit(sys.argv[1] not in (yaml.safe_load(open("changelogs/changelog.yaml"))["releases"] or {}))' "$version"; then
    echo "galaxy.yml says $version, which changelogs/changelog.yaml has no release of: run antsibull-changelog release --version $version" >&2
    exit 1
fi
unreleased=$(find changelogs/fragments -name '*.yml' -o -name '*.yaml' | sort)
if [ -n "$unreleased" ]; then
    echo "changelog fragments not in a release (run antsibull-changelog release, with a new version in galaxy.yml):" >&2
    echo "$unreleased" >&2
    exit 1
fi
antsibull-changelog lint
rm -rf build/release
ansible-galaxy collection build --output-path build/release . >/dev/null
echo "build/release/webstack-circus-$version.tar.gz"
