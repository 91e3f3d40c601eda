#!/usr/bin/env bash
# `make molecule`: the Molecule scenarios at once (their containers and networks are
# distinct), each into its own log under build/molecule/, printed whole when it ends.
# Most of a scenario's time is spent waiting (pip, systemd, health checks, the load the
# fleet test sends), so two at once take much less than one after the other.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
logs=$root/build/molecule
mkdir -p "$logs"
cd "$root"

# MOLECULE_SCENARIOS names the scenarios to run (all four by default).
declare -A pids
for name in ${MOLECULE_SCENARIOS:-fleet default apps user}; do
    # Each action's wall time goes to build/stage-times.tsv as well.
    { molecule test -s "$name" 2>&1 | python3 scripts/stamp-actions.py "$name" >"$logs/$name.log"; } &
    pids[$name]=$!
done

failed=()
for name in "${!pids[@]}"; do
    if wait "${pids[$name]}"; then status=passed; else status=failed; failed+=("$name"); fi
    echo "=== molecule scenario $name: $status (log: $logs/$name.log)"
    cat "$logs/$name.log"
done
# For scripts/failures.sh, which make test runs when a test failed.
printf '%s\n' "${failed[@]}" | sed '/^$/d' >"$logs/failed"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed scenarios: ${failed[*]}" >&2
    exit 1
fi
