#!/usr/bin/env bash
# timed.sh STAGE COMMAND [ARG...]: run the command, then add "STAGE<TAB>seconds<TAB>status"
# to build/stage-times.tsv, which `make test` prints as a table at its end
# (scripts/stage-times.sh). Exits with the command's status.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
stage=$1
shift
mkdir -p "$root/build"
start=$(date +%s)
"$@"
status=$?
printf '%s\t%s\t%s\n' "$stage" "$(($(date +%s) - start))" \
    "$([ "$status" -eq 0 ] && echo passed || echo "failed ($status)")" \
    >>"$root/build/stage-times.tsv"
exit "$status"
