"""The wheels chosen for the host's Python, not the controller's, and the name of the archive."""

import zipfile

import pytest

from ansible_collections.webstack.circus.plugins.module_utils import wheelhouse


def test_a_glibc_host_runs_every_older_manylinux_tag_and_the_legacy_names():
    tags = wheelhouse.manylinux_platforms("2.36", "x86_64")
    assert tags[0] == "manylinux_2_36_x86_64"
    assert tags[-1] == "manylinux1_x86_64"
    assert "manylinux2014_x86_64" in tags and "manylinux2010_x86_64" in tags
    assert "manylinux_2_37_x86_64" not in tags
    assert tags.index("manylinux_2_17_x86_64") < tags.index("manylinux2014_x86_64")
    assert len(tags) == len(set(tags)) == (36 - 5 + 1) + 3


def test_the_cpu_names_the_tags():
    assert wheelhouse.manylinux_platforms("2.41", "aarch64")[0] == "manylinux_2_41_aarch64"


@pytest.mark.parametrize(
    ("glibc", "machine", "message"),
    [
        ("2.4", "x86_64", "older than any manylinux"),
        ("3.1", "x86_64", "older than any manylinux"),
        ("musl", "x86_64", "glibc must be a version"),
        ("2.36", "x86_64 --index-url=x", "machine must be a CPU name"),
    ],
)
def test_a_platform_without_manylinux_wheels_is_refused(glibc, machine, message):
    with pytest.raises(wheelhouse.WheelhouseError, match=message):
        wheelhouse.manylinux_platforms(glibc, machine)


def test_the_download_resolves_for_the_host_s_python_with_wheels_only():
    argv = wheelhouse.download_argv(
        "/venv/bin/python",
        "/house",
        "/built",
        "3.13",
        ["manylinux_2_41_x86_64", "manylinux1_x86_64"],
        ["circus==0.19.0"],
        ["/src/requirements.txt"],
    )
    assert argv[:4] == ["/venv/bin/python", "-m", "pip", "download"]
    assert "--only-binary=:all:" in argv
    pairs = list(zip(argv, argv[1:]))
    assert ("--python-version", "3.13") in pairs
    assert ("--implementation", "cp") in pairs
    assert {abi for option, abi in pairs if option == "--abi"} == {"cp313", "abi3", "none"}
    assert [tag for option, tag in pairs if option == "--platform"] == [
        "manylinux_2_41_x86_64",
        "manylinux1_x86_64",
    ]
    # The pure-Python wheels the controller built from sources are found there.
    assert ("--find-links", "/built") in pairs
    assert ("--dest", "/house") in pairs
    assert ("--requirement", "/src/requirements.txt") in pairs
    assert argv[-1] == "circus==0.19.0"


def test_the_controller_builds_with_its_own_python_and_settings():
    argv = wheelhouse.wheel_argv("/venv/bin/python", "/built", ["circus==0.19.0"], [])
    assert argv[:4] == ["/venv/bin/python", "-m", "pip", "wheel"]
    assert ("--wheel-dir", "/built") in list(zip(argv, argv[1:]))
    assert "--no-index" not in argv and argv[-1] == "circus==0.19.0"


def key(requirements=("circus==0.19.0",), files=(), python="3.13", machine="x86_64", glibc="2.41"):
    return wheelhouse.wheelhouse_key(list(requirements), list(files), python, machine, glibc)


def test_the_name_depends_on_what_is_asked_for_and_the_host_s_platform():
    assert key() == key()
    assert len(key()) == 16
    different = {
        key(),
        key(requirements=["circus==0.18.0"]),
        key(requirements=["circus==0.19.0", "circus-web==1.0"]),
        key(python="3.11"),
        key(machine="aarch64"),
        key(glibc="2.36"),
    }
    assert len(different) == 6


def test_the_name_follows_the_content_of_files_not_their_path(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("Django==5.2.19\n")
    second.write_text("Django==5.2.19\n")
    assert key(files=[first]) == key(files=[second])
    second.write_text("Django==5.2.20\n")
    assert key(files=[first]) != key(files=[second])


def test_the_name_follows_the_files_a_file_includes(tmp_path):
    # The demo's requirements-celery.txt includes requirements.txt (-r): a pin added there
    # reused the cached wheelhouse without it (seen in CI: websockets missing on the host).
    top, base = tmp_path / "requirements-celery.txt", tmp_path / "requirements.txt"
    top.write_text("-r requirements.txt\ncelery==5.4.0\n")
    base.write_text("Django==5.2.19\n")
    before = key(files=[top])
    base.write_text("Django==5.2.19\nwebsockets==17.4\n")
    assert key(files=[top]) != before


def test_a_local_wheel_is_named_by_its_content(tmp_path):
    wheel = tmp_path / "shop-1.0-py3-none-any.whl"
    wheel.write_bytes(b"one")
    before = key(requirements=[str(wheel)])
    wheel.write_bytes(b"two")
    assert key(requirements=[str(wheel)]) != before


def test_a_python_version_must_give_major_and_minor():
    with pytest.raises(wheelhouse.WheelhouseError, match="python_version must be a version"):
        key(python="3")


def fake_wheel(house, name, version, requires=()):
    """A wheel file with only its metadata: its name, version and Requires-Dist."""
    path = house / f"{name}-{version}-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {line}\n" for line in requires)
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
    return path


@pytest.mark.parametrize(
    ("python", "missing"), [("3.11.2", ["async-timeout>=4.0.3"]), ("3.11.7", [])]
)
def test_the_host_s_micro_version_decides_the_markers_pip_evaluates_for_the_controller(
    tmp_path, python, missing
):
    fake_wheel(tmp_path, "redis", "5.2.1", ['async-timeout>=4.0.3; python_full_version < "3.11.3"'])
    environment = wheelhouse.host_environment(python, "x86_64")
    wanted = wheelhouse.requirement_lines(["redis==5.2.1"], [])
    assert wheelhouse.missing_requirements(str(tmp_path), wanted, environment) == missing


def test_the_extras_asked_for_bring_their_dependencies_and_others_do_not(tmp_path):
    fake_wheel(tmp_path, "celery", "5.5.3", ['kombu[redis]; extra == "redis"', "vine>=5"])
    fake_wheel(tmp_path, "vine", "5.1.0")
    environment = wheelhouse.host_environment("3.13.5", "x86_64")
    plain = wheelhouse.requirement_lines(["celery==5.5.3"], [])
    assert wheelhouse.missing_requirements(str(tmp_path), plain, environment) == []
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("-r base.txt\n")
    (tmp_path / "base.txt").write_text("celery[redis]==5.5.3  # the broker\n--no-binary :none:\n")
    extra = wheelhouse.requirement_lines([], [str(requirements)])
    assert wheelhouse.missing_requirements(str(tmp_path), extra, environment) == ["kombu[redis]"]


def test_a_wheel_of_another_version_than_required_is_missing(tmp_path):
    fake_wheel(tmp_path, "vine", "1.0")
    environment = wheelhouse.host_environment("3.11", "x86_64")
    wanted = wheelhouse.requirement_lines(["vine>=5"], [])
    assert wheelhouse.missing_requirements(str(tmp_path), wanted, environment) == ["vine>=5"]
