"""The roles' records (webstack.circus.run_record): a run on a host that still runs what
the last complete run left skips the roles' work; a file changed behind the roles' back
makes the next run write it again and restart what reads it, then the runs skip again."""

import hashlib
import hmac
import json
import os
import pathlib
import re
import time

from helpers import circusctl, http_get, run_site

RECORDS = "/var/lib/webstack/records"
CIRCUS_INI = "/etc/circus/circus.ini"
DIGEST_KEY = f"{RECORDS}/.digest-key"


def keyed_digest(host, path):
    """What run_record records for a file: its HMAC-SHA256 under the host's key."""
    key = host.file(DIGEST_KEY).content
    return hmac.new(key, host.file(path).content, hashlib.sha256).hexdigest()


def recap(output):
    """The play recap's counts for the one host of the run."""
    line = next(line for line in output.splitlines() if re.match(r"^\S+\s+: ok=", line))
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def task_runs(output, task):
    """How many times a task named `task` ran (ok or changed) and was skipped in a run."""
    blocks = re.split(r"^TASK \[", output, flags=re.MULTILINE)[1:]
    mine = [block for block in blocks if re.match(rf"[^\]\n]*: {re.escape(task)}\]", block)]
    ran = sum(bool(re.search(r"^(ok|changed): ", block, re.MULTILINE)) for block in mine)
    return dict(ran=ran, skipped=len(mine) - ran)


# Each role's read of its record (tasks/read.yml), made by site.yml's preflight play and
# again by the role only when a role before it changed the host (the role's read is
# skipped otherwise: the preflight's read stands). The role's own preflight, which reads
# too when the role runs without the preflight play, is skipped: the play checked.
READS = [
    "Read whether circusd runs what the last complete run left",
    "Read whether the host runs what the last complete run left",
    "Read whether nginx runs what the last complete run left",
]


ROLES = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "roles"
WRITE_WATCHER = "Write the app's Circus files"


def role_task(name):
    """name, once it is known to name a task of the roles (a {{ expression }} in a task's
    name matches anything): that a task did not run must not be asserted of a name no task
    has any more."""
    names = [
        line.split("- name: ", 1)[1]
        for path in ROLES.glob("*/tasks/*.yml")
        for line in path.read_text().splitlines()
        if "- name: " in line
    ]
    patterns = [".+".join(map(re.escape, re.split(r"\{\{.*?\}\}", each))) for each in names]
    assert any(re.fullmatch(pattern, name) for pattern in patterns), f"no task is named {name!r}"
    return name


def circusd_pid(host):
    return host.run("systemctl show --property=MainPID --value circusd").stdout.strip()


def test_each_role_recorded_its_files_for_root_only(host):
    for name, files in [
        ("circus", [CIRCUS_INI, "/etc/systemd/system/circusd.service"]),
        ("django_app-demo", ["/etc/circus/conf.d/demo.ini", "/srv/demo/environment.json"]),
        ("nginx_proxy", ["/etc/nginx/sites-enabled/demo.conf"]),
    ]:
        record = host.file(f"{RECORDS}/{name}.json")
        assert (record.user, record.group, record.mode) == ("root", "root", 0o600), name
        recorded = json.loads(host.run(f"cat {RECORDS}/{name}.json").stdout)["files"]
        for path in files:
            # Keyed by the host's key: a file that holds a secret gives no digest anyone
            # could compute from a guess of it.
            assert recorded[path] == keyed_digest(host, path), f"{name}: {path}"
            assert recorded[path] != host.file(path).sha256sum, f"{name}: {path}"
    key = host.file(DIGEST_KEY)
    assert (key.user, key.group, key.mode, key.size) == ("root", "root", 0o600, 32)


def test_a_run_on_a_converged_host_skips_the_roles_work(bookworm):
    # Converge to the inventory first: the tests before may have deployed other values
    # (test_hardening rotates the secret with -e).
    converge = run_site(bookworm)
    assert converge.returncode == 0, converge.stdout[-3000:]
    run = run_site(bookworm)
    assert run.returncode == 0, run.stdout[-3000:]
    assert recap(run.stdout)["changed"] == 0
    # The includes of install and configure were skipped: none of their tasks ran.
    for task in ["Write circus.ini", WRITE_WATCHER, "Write the site demo"]:
        assert f": {role_task(task)}]" not in run.stdout, task
    # So were the variables' checks: the last complete run passed them with these values.
    for task in [
        "Check the values against the role's argument specs",
        "Check each value against the role's rules",
        "Read whether the app's user exists on the host",
    ]:
        assert f": {role_task(task)}]" not in run.stdout, task
    # Each record was read once, by the preflight: no role changed the host, so each role
    # took the preflight's read as its own.
    for task in READS:
        assert task_runs(run.stdout, task) == dict(ran=1, skipped=2), task


def task_failed(output, task):
    """Whether a task named `task` failed in a run."""
    blocks = re.split(r"^TASK \[", output, flags=re.MULTILINE)[1:]
    return any(
        re.match(rf"[^\]\n]*: {re.escape(task)}\]", block)
        and re.search(r"^fatal: ", block, re.MULTILINE)
        for block in blocks
    )


def test_a_configuration_broken_by_another_file_fails_the_run(bookworm):
    """The record covers the role's own files, not what else nginx loads: a run that
    skips the role's work still checks the whole configuration."""
    broken = "/etc/nginx/conf.d/broken-by-hand.conf"
    bookworm.run_expect([0], f"echo 'server {{ listen 8099' > {broken}")
    try:
        run = run_site(bookworm)
    finally:
        bookworm.run_expect([0], f"rm -f {broken}")
    assert run.returncode != 0, run.stdout[-3000:]
    assert task_failed(run.stdout, "Check the whole nginx configuration"), run.stdout[-3000:]
    again = run_site(bookworm)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["changed"] == 0


def test_a_hand_edited_config_is_written_again_and_applied(bookworm):
    before = circusd_pid(bookworm)
    bookworm.run_expect([0], f"printf '[watcher:intruder]\\ncmd = sleep 600\\n' >> {CIRCUS_INI}")
    run = run_site(bookworm)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "intruder" not in bookworm.file(CIRCUS_INI).content_string
    # circusd was restarted onto the file as the role writes it, and serves again.
    assert circusd_pid(bookworm) != before
    # circus changed the host: the roles after it read their records again, though the
    # preflight had read them unchanged.
    for task in READS:
        assert task_runs(run.stdout, task) == dict(ran=2, skipped=1), task
    deadline = time.monotonic() + 60
    while http_get(bookworm, "/healthz")["status"] != 200:
        assert time.monotonic() < deadline, "the site did not answer within 60 s of the run"
        time.sleep(1)
    again = run_site(bookworm)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["changed"] == 0
    assert f": {role_task('Write circus.ini')}]" not in again.stdout


def test_a_stopped_watcher_is_started_by_the_next_run(bookworm):
    # What the flapping plugin does to a crash-looping release, done by hand.
    bookworm.run_expect([0], f"{circusctl(bookworm)} stop demo")
    deadline = time.monotonic() + 90
    while watcher_status(bookworm) != "stopped":
        assert time.monotonic() < deadline, "the demo's watcher did not stop within 90 s"
        time.sleep(1)
    run = run_site(bookworm)
    assert run.returncode == 0, run.stdout[-3000:]
    assert watcher_status(bookworm) == "active"
    assert http_get(bookworm, "/healthz")["status"] == 200
    # The record held otherwise: the run did the role's work only for the watcher.
    assert f": {WRITE_WATCHER}]" in run.stdout
    again = run_site(bookworm)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["changed"] == 0
    assert f": {role_task(WRITE_WATCHER)}]" not in again.stdout


def watcher_status(host):
    return json.loads(host.check_output(f"{circusctl(host)} --json status demo"))["status"]
