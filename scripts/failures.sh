#!/usr/bin/env bash
# What failed in `make test`'s parallel part (the integration tests and the Molecule
# scenarios print thousands of lines at once), printed last: CI keeps only the tail of
# the output. Reads the logs they leave in build/.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit

echo "=== what failed (make test)"
if [ -f build/integration.log ]; then
    # pytest's short summary (-ra): a line per failed or erroring test.
    grep -E '^(FAILED|ERROR) ' build/integration.log | sed 's/^/integration: /'
fi
if [ -f build/molecule/failed ]; then
    while read -r name; do
        # The failed tests and tasks of the scenario, without the colours.
        sed 's/\x1b\[[0-9;]*m//g' "build/molecule/$name.log" \
            | grep -E '(FAILED|ERROR) tests/|fatal: \[|Executed: Failed|Return code: [1-9]' \
            | grep -v 'FAILED - RETRYING' | tail -n 20 | sed "s/^/molecule $name: /"
    done <build/molecule/failed
fi
