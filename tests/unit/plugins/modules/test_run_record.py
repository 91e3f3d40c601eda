"""run_record: what a complete run recorded, checked against the files and units as they are."""

import hashlib
import json
import os
import pathlib
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.webstack.circus.plugins.modules import run_record


@pytest.fixture
def managed(tmp_path):
    """Two files a role manages, and where its record goes."""
    conf = tmp_path / "etc" / "app.ini"
    unit = tmp_path / "etc" / "app.service"
    conf.parent.mkdir()
    conf.write_text("[app]\nworkers = 2\n")
    unit.write_text("[Service]\n")
    return {
        "conf": str(conf),
        "unit": str(unit),
        "record": str(tmp_path / "records" / "app.json"),
        "key": str(tmp_path / "records" / ".digest-key"),
    }


@pytest.fixture
def systemctl(tmp_path, monkeypatch):
    """A systemctl on PATH that reports the states in its states file, one per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    states = tmp_path / "states"
    script = bin_dir / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\ncat {states}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return states


def run(capsys, check_mode=False, diff=False, **args):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        run_record.main()
    result = json.loads(capsys.readouterr().out)
    assert (exited.value.code != 0) == bool(result.get("failed")), result
    return result


def record(capsys, managed, fingerprint="v1", **args):
    return run(
        capsys,
        path=managed["record"],
        state="present",
        fingerprint=fingerprint,
        files=[managed["conf"], managed["unit"]],
        digest_key=managed["key"],
        **args,
    )


def read(capsys, managed, fingerprint="v1", **args):
    return run(
        capsys, path=managed["record"], fingerprint=fingerprint, digest_key=managed["key"], **args
    )


def test_without_a_record_the_host_has_not_converged(capsys, managed):
    result = read(capsys, managed)
    assert result["converged"] is False
    assert result["reasons"] == ["no complete run is recorded"]
    assert result["changed"] is False


def test_a_recorded_host_has_converged_while_nothing_differs(capsys, managed):
    written = record(capsys, managed)
    assert written["changed"] is True
    assert written["differing_files"] == []
    mode = stat.S_IMODE(os.stat(managed["record"]).st_mode)
    assert mode == 0o600
    result = read(capsys, managed)
    assert (result["converged"], result["reasons"], result["differing_files"]) == (True, [], [])
    assert record(capsys, managed)["changed"] is False


def test_another_fingerprint_means_other_variables_or_code(capsys, managed):
    record(capsys, managed)
    result = read(capsys, managed, fingerprint="v2")
    assert result["converged"] is False
    assert result["reasons"] == ["the role's variables or code changed since the last complete run"]
    # The files are as recorded: nothing for the role to restart for.
    assert result["differing_files"] == []


def test_a_changed_or_missing_file_is_named_and_listed(capsys, managed):
    record(capsys, managed)
    with open(managed["conf"], "a") as conf:
        conf.write("workers = 9\n")
    os.unlink(managed["unit"])
    result = read(capsys, managed)
    assert result["converged"] is False
    assert result["reasons"] == [
        f"{managed['conf']} changed since the last complete run",
        f"{managed['unit']} is missing",
    ]
    assert result["differing_files"] == sorted([managed["conf"], managed["unit"]])


def show(*states):
    """What `systemctl show --property=LoadState,ActiveState` prints for these units."""
    return "\n".join(f"LoadState={load}\nActiveState={active}\n" for load, active in states)


def test_a_unit_that_is_not_active_or_not_installed_is_named(capsys, managed, systemctl, tmp_path):
    record(capsys, managed)
    systemctl.write_text(
        show(("loaded", "active"), ("loaded", "failed"), ("not-found", "inactive"))
    )
    result = read(capsys, managed, units=["circusd", "nginx", "nftables"])
    assert result["converged"] is False
    assert result["reasons"] == ["nginx is failed", "nftables is not installed"]
    assert result["units"]["nftables"] == {"load": "not-found", "active": "inactive"}
    calls = (tmp_path / "calls").read_text()
    assert calls == "show --property=LoadState,ActiveState -- circusd nginx nftables\n"
    systemctl.write_text(show(("loaded", "active"), ("loaded", "active")))
    assert read(capsys, managed, units=["circusd", "nginx"])["converged"] is True


def test_a_lazy_read_asks_systemd_only_of_a_host_that_holds_otherwise(
    capsys, managed, systemctl, tmp_path
):
    systemctl.write_text(show(("loaded", "inactive")))
    # No record (systemd need not even run): not converged, without asking.
    fresh = read(capsys, managed, units=["circusd"], lazy=True)
    assert (fresh["converged"], fresh["units"]) == (False, {})
    record(capsys, managed)
    assert read(capsys, managed, fingerprint="v2", units=["circusd"], lazy=True)["units"] == {}
    assert not (tmp_path / "calls").exists()
    held = read(capsys, managed, units=["circusd"], lazy=True)
    assert held["reasons"] == ["circusd is inactive"]
    assert held["units"] == {"circusd": {"load": "loaded", "active": "inactive"}}


def test_systemctl_answering_for_fewer_units_fails(capsys, managed, systemctl):
    record(capsys, managed)
    systemctl.write_text(show(("loaded", "active")))
    result = read(capsys, managed, units=["circusd", "nginx"])
    assert result["failed"] is True
    assert "did not answer for each of circusd, nginx" in result["msg"]


def test_recording_lists_the_files_that_differ_from_the_previous_record(capsys, managed):
    record(capsys, managed)
    with open(managed["conf"], "w") as conf:
        conf.write("[app]\nworkers = 4\n")
    written = record(capsys, managed, fingerprint="v2")
    assert written["differing_files"] == [managed["conf"]]
    assert read(capsys, managed, fingerprint="v2")["converged"] is True


def test_check_mode_predicts_the_write_and_writes_nothing(capsys, managed):
    read(capsys, managed)  # the host's key, which a fresh host in check mode has not got
    predicted = record(capsys, managed, check_mode=True, diff=True)
    assert predicted["changed"] is True
    assert not os.path.exists(managed["record"])
    assert predicted["diff"]["before"] == ""
    assert json.loads(predicted["diff"]["after"])["fingerprint"] == "v1"
    written = record(capsys, managed, diff=True)
    assert written["diff"] == predicted["diff"]
    assert set(written) == set(predicted)


def test_recording_a_missing_file_fails_and_keeps_the_old_record(capsys, managed):
    record(capsys, managed)
    kept = pathlib.Path(managed["record"]).read_text()
    os.unlink(managed["conf"])
    result = record(capsys, managed, fingerprint="v2")
    assert result["failed"] is True
    assert managed["conf"] in result["msg"]
    assert pathlib.Path(managed["record"]).read_text() == kept


def test_an_unreadable_record_counts_as_none(capsys, managed):
    os.makedirs(os.path.dirname(managed["record"]))
    with open(managed["record"], "w") as broken:
        broken.write("{not json")
    assert read(capsys, managed)["reasons"] == ["no complete run is recorded"]


def test_check_mode_on_a_fresh_host_predicts_a_record_of_files_not_written_yet(capsys, managed):
    os.unlink(managed["conf"])
    predicted = record(capsys, managed, check_mode=True)
    assert (predicted.get("failed", False), predicted["changed"]) == (False, True)
    assert not os.path.exists(managed["record"])


def test_the_host_key_is_made_once_root_only_and_not_in_check_mode(capsys, managed):
    read(capsys, managed, check_mode=True)
    assert not os.path.exists(managed["key"])
    read(capsys, managed)
    key = pathlib.Path(managed["key"]).read_bytes()
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(managed["key"]).st_mode) == 0o600
    record(capsys, managed)
    assert pathlib.Path(managed["key"]).read_bytes() == key


SECRETS = {"users": [{"name": "ops", "password": "correct horse"}]}


def test_a_changed_secret_is_a_reason_but_neither_it_nor_a_plain_digest_is_shown(capsys, managed):
    written = record(capsys, managed, secrets=SECRETS, diff=True)
    assert read(capsys, managed, secrets=SECRETS)["converged"] is True
    changed = dict(users=[dict(name="ops", password="battery staple")])
    result = read(capsys, managed, secrets=changed)
    assert result["reasons"] == ["the role's secret values changed since the last complete run"]
    # A digest anyone could compute from a guess: of the value, or of a file holding it.
    guessable = {
        hashlib.sha256(json.dumps(SECRETS, sort_keys=True, separators=(",", ":")).encode()),
        hashlib.sha256(pathlib.Path(managed["conf"]).read_bytes()),
    }
    shown = json.dumps(written) + pathlib.Path(managed["record"]).read_text()
    assert "correct horse" not in shown
    for digest in guessable:
        assert digest.hexdigest() not in shown


def test_values_are_recorded_while_the_fingerprint_and_secrets_are_the_last_run_s(
    capsys, managed, systemctl
):
    """What lets a role skip checking its variables: the same values and code passed them
    in the last complete run, whatever the host's files and units are now."""
    assert read(capsys, managed)["values_recorded"] is False
    record(capsys, managed, secrets=SECRETS)
    pathlib.Path(managed["conf"]).unlink()
    systemctl.write_text("LoadState=loaded\nActiveState=failed\n")
    held = read(capsys, managed, secrets=SECRETS, units=["circusd"])
    assert (held["converged"], held["values_recorded"]) == (False, True)
    assert read(capsys, managed, fingerprint="v2", secrets=SECRETS)["values_recorded"] is False
    assert read(capsys, managed, secrets={"users": []})["values_recorded"] is False
    assert read(capsys, managed)["values_recorded"] is False


def test_the_same_secret_has_another_digest_on_another_host(capsys, managed):
    record(capsys, managed, secrets=SECRETS)
    first = json.loads(pathlib.Path(managed["record"]).read_text())
    os.unlink(managed["key"])
    record(capsys, managed, secrets=SECRETS)
    second = json.loads(pathlib.Path(managed["record"]).read_text())
    assert first["fingerprint"] == second["fingerprint"]
    assert first["secrets"] != second["secrets"]
    assert first["files"][managed["conf"]] != second["files"][managed["conf"]]


@pytest.fixture
def circusctl(tmp_path):
    """A circusctl that logs its arguments and prints the reply in its reply file."""
    reply = tmp_path / "circusd-reply"
    script = tmp_path / "bin-circus" / "circusctl"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/circusctl-calls\ncat {reply}\n')
    script.chmod(0o755)
    return {"path": str(script), "reply": reply, "calls": tmp_path / "circusctl-calls"}


def read_watchers(capsys, managed, circusctl, statuses, **args):
    circusctl["reply"].write_text(json.dumps({"status": "ok", "statuses": statuses}))
    return read(
        capsys,
        managed,
        watchers=["shop", "shop-celery"],
        endpoint="ipc:///run/circus/circusd.sock",
        circusctl_path=circusctl["path"],
        **args,
    )


def test_a_watcher_that_is_not_active_or_not_loaded_is_named(capsys, managed, circusctl):
    record(capsys, managed)
    both = {"shop": "active", "shop-celery": "active", "other": "stopped"}
    assert read_watchers(capsys, managed, circusctl, both)["converged"] is True
    calls = circusctl["calls"].read_text()
    assert calls == "--endpoint ipc:///run/circus/circusd.sock --timeout 30 --json status\n"
    stopped = read_watchers(capsys, managed, circusctl, {"shop": "stopped", "other": "active"})
    assert stopped["converged"] is False
    assert stopped["reasons"] == [
        "watcher shop is stopped",
        "watcher shop-celery is not loaded by circusd",
    ]


def test_watchers_are_not_asked_for_when_the_host_has_not_converged_anyway(
    capsys, managed, circusctl
):
    result = read_watchers(capsys, managed, circusctl, {"shop": "stopped"})
    assert result["reasons"] == ["no complete run is recorded"]
    assert not circusctl["calls"].exists()


def test_circusd_not_answering_is_a_reason_not_a_failure(capsys, managed, circusctl):
    record(capsys, managed)
    circusctl["reply"].write_text("")
    pathlib.Path(circusctl["path"]).write_text("#!/bin/sh\necho 'Timed out.' >&2\nexit 1\n")
    result = read(capsys, managed, watchers=["shop"], circusctl_path=circusctl["path"], timeout=1)
    assert result["converged"] is False
    assert result["reasons"][0].startswith("circusd did not tell the watchers' states: ")
