#!/usr/bin/env bash
# The wall time of each stage `make test` ran (build/stage-times.tsv, written by
# scripts/timed.sh and scripts/stamp-actions.py), as a table. The integration tests and
# the Molecule scenarios run at the same time: their times overlap.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
times=$root/build/stage-times.tsv
[ -s "$times" ] || exit 0
echo "=== wall time of each stage (make test)"
awk -F '\t' '{ printf "%-36s %6d s  %s\n", $1, $2, $3 }' "$times"
if [ -s "$root/build/test-started" ]; then
    printf '%-36s %6d s\n' "make test, in all" "$(($(date +%s) - $(cat "$root/build/test-started")))"
fi
