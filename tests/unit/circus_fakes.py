"""circusd replies recorded from a real circusd, and a module stand-in whose run_command
answers circusctl calls with them."""

import json
import pathlib

import circus_paths

REPLIES = json.loads((pathlib.Path(__file__).parent / "circusd_replies.json").read_text())
CIRCUSCTL = circus_paths.CIRCUSCTL_PATH
ENDPOINT = circus_paths.ENDPOINT
TIMED_OUT = "Timed out.\nA time out usually happens in one of those cases:\n"


class FakeModule:
    """Answers `circusctl ... --json ARGS` from a table keyed by 'ARGS'.

    A value is a reply dict, or a list of them consumed one per call, or an
    (rc, stdout, stderr) tuple.
    """

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def run_command(self, cmd, environ_update=None):
        assert cmd[:6] == [CIRCUSCTL, "--endpoint", ENDPOINT, "--timeout", "30", "--json"]
        assert environ_update == {"LC_ALL": "C"}
        key = " ".join(cmd[6:])
        self.calls.append(key)
        answer = self.answers[key]
        if isinstance(answer, list):
            answer = answer.pop(0)
        if isinstance(answer, tuple):
            return answer
        return 0, json.dumps(answer), ""
