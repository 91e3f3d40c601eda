import json
import os
import pathlib
import pwd
import shutil
import socket
import sys
import tempfile
import textwrap

import pytest

from ansible_collections.webstack.circus.plugins.module_utils.circusctl import (
    ArbiterBusy,
    CircusClient,
    CircusError,
    CircusSession,
    WatcherNotFound,
    endpoint_refusal,
)
from circus_fakes import CIRCUSCTL, ENDPOINT, TIMED_OUT, FakeModule


def make_client(answers, busy_retries=3):
    """A client on a FakeModule; the delays it sleeps are kept in client.module.sleeps."""
    module = FakeModule(answers)
    module.sleeps = []
    return CircusClient(
        module,
        CIRCUSCTL,
        ENDPOINT,
        30,
        busy_retries=busy_retries,
        busy_delay=0.25,
        sleep=module.sleeps.append,
    )


def test_watcher_reads_status_configured_target_and_pids(replies):
    client = make_client(
        {
            "status sleeper": replies["status sleeper"],
            "get sleeper numprocesses": replies["get sleeper numprocesses"],
            "list sleeper": replies["list sleeper"],
        }
    )
    assert client.watcher("sleeper") == dict(status="active", numprocesses=2, pids=[2251, 2252])
    assert client.module.calls == ["status sleeper", "get sleeper numprocesses", "list sleeper"]


def test_error_reply_with_exit_code_zero_is_an_error(replies):
    client = make_client({"stop sleeper --waiting": replies["status nosuch"]})
    with pytest.raises(CircusError) as raised:
        client.stop("sleeper", wait=True)
    assert raised.value.message == (
        f"circusd at {ENDPOINT} refused 'stop sleeper --waiting': program nosuch not found"
    )
    assert raised.value.details["reply"]["errno"] == 3


def test_unknown_watcher_names_the_watchers_circusd_has(replies):
    client = make_client({"status nosuch": replies["status nosuch"], "list": replies["list"]})
    with pytest.raises(WatcherNotFound) as raised:
        client.watcher("nosuch")
    assert raised.value.message == (
        f"circusd at {ENDPOINT} has no watcher named nosuch (it has: sleeper, web)"
    )


def test_busy_arbiter_is_retried_then_succeeds(replies):
    client = make_client(
        {
            "reload sleeper --waiting": [
                replies["busy"],
                replies["busy"],
                replies["reload sleeper --waiting"],
            ],
        }
    )
    assert client.reload("sleeper", sequential=False, wait=True) == {
        "stopped": [2340],
        "started": [2348],
        "kept": [],
    }
    assert client.module.calls == ["reload sleeper --waiting"] * 3
    assert client.module.sleeps == [0.25, 0.25]


def test_busy_arbiter_gives_up_after_bounded_retries(replies):
    client = make_client({"start sleeper --waiting": [replies["busy"]] * 3}, busy_retries=2)
    with pytest.raises(CircusError, match="arbiter is already running watcher_reload"):
        client.start("sleeper", wait=True)
    assert len(client.module.calls) == 3


def test_busy_arbiter_is_waited_for_as_long_as_the_timeout_then_given_up(replies):
    # Left to its defaults, the client keeps retrying a busy arbiter (a slow reload) for
    # the time a single command may take, then fails with circusd's reason.
    module = FakeModule({"restart sleeper --waiting": [replies["busy"]] * 1000})
    sleeps = []
    client = CircusClient(module, CIRCUSCTL, ENDPOINT, 30, sleep=sleeps.append)
    with pytest.raises(CircusError, match="arbiter is already running watcher_reload"):
        client.restart("sleeper", wait=True)
    assert sum(sleeps) == 30
    assert len(module.calls) == len(sleeps) + 1


def test_timeout_names_the_endpoint():
    client = make_client({"list": (1, "", TIMED_OUT)})
    with pytest.raises(CircusError) as raised:
        client.watchers()
    assert ENDPOINT in raised.value.message
    assert "timed out after 30s" in raised.value.message
    assert raised.value.details["rc"] == 1


def test_other_client_failure_reports_last_line_of_stderr():
    client = make_client({"list": (1, "", "Traceback...\nValueError: boom\n")})
    with pytest.raises(CircusError, match=r"rc 1: ValueError: boom$"):
        client.watchers()


def test_output_that_is_not_json_is_an_error():
    client = make_client({"list": (0, "ok\n", "")})
    with pytest.raises(CircusError, match="not JSON"):
        client.watchers()


@pytest.mark.parametrize(
    ("sequential", "wait", "command"),
    [
        (False, True, "reload sleeper --waiting"),
        (True, True, "reload sleeper --waiting --sequential"),
        (False, False, "reload sleeper"),
    ],
)
def test_reload_arguments(replies, sequential, wait, command):
    client = make_client({command: replies["reload sleeper --waiting"]})
    client.reload("sleeper", sequential=sequential, wait=wait)
    assert client.module.calls == [command]


def test_changes_without_waiting_return_no_pids(replies):
    client = make_client({"restart sleeper": replies["stop sleeper"]})
    assert client.restart("sleeper", wait=False) == {}


def test_set_numprocesses_sends_the_number(replies):
    client = make_client(
        {"set sleeper numprocesses 3 --waiting": replies["set sleeper numprocesses 3 --waiting"]}
    )
    client.set_numprocesses("sleeper", 3, wait=True)
    assert client.module.calls == ["set sleeper numprocesses 3 --waiting"]


def test_sockets_and_stats(replies):
    client = make_client(
        {"listsockets": replies["listsockets"], "stats sleeper": replies["stats sleeper"]}
    )
    assert client.sockets()[0]["port"] == 18765
    assert sorted(client.stats("sleeper")) == ["2251", "2252"]


def fake_shell(tmp_path, answers, timed_out=False):
    """An executable that talks like circusctl's shell (0.19.0 with --json): a version
    line, the status of every watcher, then a prompt before each reply. An answer that is
    a list gives its items one per command. A command it has no answer for gets none, as
    when circusctl's reply is lost; with timed_out, "Timed out." on stderr instead, as
    circusctl prints when circusd does not answer within its timeout."""
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    shell = tmp_path / "circusctl"
    shell.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, sys
            answers = json.load(open({str(tmp_path / "answers.json")!r}))
            print("circusctl 0.19.0")
            print(json.dumps({{"status": "ok", "statuses": {{"sleeper": "active"}}}}))
            with open({str(tmp_path / "argv")!r}, "w") as argv:
                argv.write(" ".join(sys.argv[1:]))
            for line in sys.stdin:
                sys.stdout.write("(circusctl) ")
                answer = answers.get(line.strip())
                if isinstance(answer, list):
                    answer = answer.pop(0)
                if answer is not None:
                    print(json.dumps(answer))
                elif {timed_out!r}:
                    sys.stderr.write({TIMED_OUT!r})
                    sys.stderr.flush()
                sys.stdout.flush()
            """
        )
    )
    shell.chmod(0o755)
    return str(shell)


def test_session_sends_each_command_to_one_shell_and_reads_its_reply(tmp_path, replies):
    shell = fake_shell(
        tmp_path,
        {
            "list sleeper": replies["list sleeper (surged)"],
            "kill sleeper 17457": {"status": "ok"},
            "decr sleeper 2 --waiting": replies["decr sleeper 2 --waiting"],
        },
    )
    with CircusSession(shell, ENDPOINT, 1) as session:
        assert session.pids("sleeper") == [17447, 17448, 17457, 17458]
        session.kill("sleeper", 17457)
        assert session.decr("sleeper", 2) == replies["decr sleeper 2 --waiting"]["numprocesses"]
    assert session.process.returncode == 0
    assert (tmp_path / "argv").read_text() == f"--endpoint {ENDPOINT} --timeout 1 --json"


def test_session_raises_busy_without_retrying(tmp_path):
    busy = {"status": "error", "reason": "arbiter is already running manage_watchers command"}
    shell = fake_shell(tmp_path, {"decr sleeper 2 --waiting": busy})
    session = CircusSession(shell, ENDPOINT, 1)
    with session, pytest.raises(ArbiterBusy):
        session.decr("sleeper", 2)


def test_session_gives_up_on_a_command_circusctl_does_not_answer(tmp_path):
    unanswered = pytest.raises(
        CircusError, match=r"did not answer within 6s running 'list sleeper'"
    )
    session = CircusSession(fake_shell(tmp_path, {}), ENDPOINT, 1)
    with session, unanswered:
        session.pids("sleeper")


def test_a_client_in_one_shell_sends_every_call_there_and_retries_busy(tmp_path, replies):
    busy = {"status": "error", "reason": "arbiter is already running manage_watchers command"}
    shell = fake_shell(
        tmp_path,
        {
            "status sleeper": replies["status sleeper"],
            "get sleeper numprocesses": replies["get sleeper numprocesses"],
            "list sleeper": [busy, replies["list sleeper"]],
        },
    )
    client = make_client({})
    client.circusctl = shell
    with client.one_shell():
        watcher = client.watcher("sleeper")
    assert watcher["pids"] == sorted(replies["list sleeper"]["pids"])
    assert client.module.sleeps == [0.25]
    # Nothing went through run_command, and the shell is closed.
    assert client.module.calls == []
    assert client.shell is None


def test_a_shell_s_timed_out_fails_at_once_with_the_client_s_message(tmp_path):
    session = CircusSession(fake_shell(tmp_path, {}, timed_out=True), ENDPOINT, 30)
    with session, pytest.raises(CircusError, match="circusctl timed out after 30s") as error:
        session.pids("sleeper")
    # Not the 35 s a silent shell is given.
    assert "check that circusd is running" in error.value.message


def test_a_shell_that_cannot_reach_circusd_is_closed(tmp_path):
    """circusctl's greeting timed out: the error, and no circusctl left waiting."""
    shell = tmp_path / "circusctl"
    shell.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import os, sys
            open({str(tmp_path / "pid")!r}, "w").write(str(os.getpid()))
            print("circusctl 0.19.0", flush=True)
            sys.stderr.write({TIMED_OUT!r})
            sys.stderr.flush()
            sys.stdin.read()
            """
        )
    )
    shell.chmod(0o755)
    with pytest.raises(CircusError, match="circusctl timed out after 30s"):
        CircusSession(str(shell), ENDPOINT, 30)
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def as_user(uid, function, *args):
    """function(*args) in a forked child that runs as uid (no exec: the interpreter's
    home need not be open to that user)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.write(write, json.dumps(function(*args)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        reply = answer.read()
    os.waitpid(pid, 0)
    return json.loads(reply)


NOBODY = pwd.getpwnam("nobody").pw_uid


@pytest.fixture
def control_socket():
    """A listening unix socket as circusd's, root's only, in a directory others may search
    (under /tmp: pytest's tmp_path is in a directory of root's only)."""
    run_dir = pathlib.Path(tempfile.mkdtemp(prefix="webstack-run-", dir="/tmp"))
    run_dir.chmod(0o755)
    path = run_dir / "circusd.sock"
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(path))
            path.chmod(0o700)
            yield path
    finally:
        shutil.rmtree(run_dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to another user")
def test_an_endpoint_refused_by_its_permissions_is_named_at_once(control_socket):
    endpoint = f"ipc://{control_socket}"
    refused = as_user(NOBODY, endpoint_refusal, endpoint)
    assert refused.startswith(f"permission denied on {endpoint}: nobody may not write to")
    control_socket.parent.chmod(0o700)
    refused = as_user(NOBODY, endpoint_refusal, endpoint)
    assert refused.startswith(f"permission denied on {endpoint}: nobody cannot reach")
    assert endpoint_refusal(endpoint) is None


def test_an_endpoint_that_is_not_there_or_not_a_file_is_left_to_circusctl(tmp_path):
    assert endpoint_refusal(f"ipc://{tmp_path}/missing.sock") is None
    assert endpoint_refusal("tcp://127.0.0.1:5555") is None
