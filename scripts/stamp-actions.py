"""stamp-actions.py SCENARIO: copy a `molecule test` output from stdin to stdout, and add
the wall time of each of its actions (create, converge, verify, ...) to
build/stage-times.tsv, as "molecule SCENARIO ACTION<TAB>seconds<TAB>status"."""

import pathlib
import re
import sys
import time

TIMES = pathlib.Path(__file__).resolve().parents[1] / "build" / "stage-times.tsv"
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
ACTION = re.compile(r"➜ (\w+): (Executing|Executed: (\w+))")


def main(scenario):
    started = {}
    for line in sys.stdin.buffer:
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
        found = ACTION.search(COLOUR.sub("", line.decode(errors="replace")))
        if not found:
            continue
        action, event, outcome = found.groups()
        if event == "Executing":
            started[action] = time.monotonic()
        elif action in started:
            seconds = round(time.monotonic() - started.pop(action))
            status = "passed" if outcome == "Successful" else outcome.lower()
            with TIMES.open("a") as times:
                times.write(f"molecule {scenario} {action}\t{seconds}\t{status}\n")


if __name__ == "__main__":
    main(sys.argv[1])
