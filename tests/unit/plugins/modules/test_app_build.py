"""app_build: the virtualenv's name, the requirements file read from the archive, the
steps, and a build on a real directory (run_command runs the real tar)."""

import hashlib
import io
import os
import subprocess
import tarfile

import pytest

from ansible_collections.webstack.circus.plugins.modules.app_build import (
    Build,
    BuildError,
    plan,
    requirements_digest,
    requirements_in_archive,
    venv_key,
)

RELEASE = "0123456789abcdef"


def archive_of(files):
    """A tar.gz in memory of name -> bytes, as app_archive packs it (directories first)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def test_the_virtualenv_keeps_the_name_the_role_gave_it():
    # Computed by the role's Jinja before this module (ansible-core 2.19), for a package
    # source: hosts keep their virtualenvs across the upgrade.
    digest = hashlib.sha256(b"x").hexdigest()
    assert venv_key(["chaussette==1.3.0", "celery==5.4.0"], digest, RELEASE) == "b73fcc0f55513ec0"


def test_the_virtualenv_changes_with_each_input():
    digest = hashlib.sha256(b"x").hexdigest()
    names = {
        venv_key(["chaussette==1.3.0"], digest),
        venv_key(["gunicorn==23.0.0"], digest),
        venv_key(["chaussette==1.3.0"], hashlib.sha256(b"y").hexdigest()),
        venv_key(["chaussette==1.3.0"], ""),
        venv_key(["chaussette==1.3.0"], digest, RELEASE),
    }
    assert len(names) == 5


def test_the_requirements_file_is_read_from_the_archive():
    archive = archive_of({"requirements.txt": b"django\n", "sub/req.txt": b"celery\n"})
    assert requirements_in_archive(archive, "requirements.txt") == b"django\n"
    assert requirements_in_archive(archive, "sub/req.txt") == b"celery\n"
    assert requirements_in_archive(archive, "req.txt") is None


def test_a_missing_requirements_file_names_it():
    with pytest.raises(BuildError, match=r"'requirements/prod\.txt' is not in the app's source"):
        requirements_digest(None, "requirements/prod.txt")
    assert requirements_digest(None, "") == ""
    assert requirements_digest(b"x", "r.txt") == hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize(
    ("code", "collectstatic", "venv_complete", "expected"),
    [
        ("archive", True, True, ["unpack", "link venv", "collectstatic", "complete"]),
        ("archive", False, True, ["unpack", "link venv", "complete"]),
        # The virtualenv is installed between two calls: the code stays unpacked.
        ("archive", True, False, ["unpack"]),
        ("present", True, False, []),
        ("present", True, True, ["link venv", "collectstatic", "complete"]),
        ("package", True, True, ["copy package", "link venv", "collectstatic", "complete"]),
    ],
)
def test_plan(code, collectstatic, venv_complete, expected):
    assert plan(code, collectstatic, venv_complete) == expected


class Module:
    """run_command as AnsibleModule's, running the command for real."""

    def __init__(self, params):
        self.params = params
        self.commands = []

    def run_command(self, argv, cwd=None, data=None, binary_data=False):
        self.commands.append(argv)
        run = subprocess.run(argv, cwd=cwd, input=data, capture_output=True, check=False)
        return run.returncode, run.stdout.decode(), run.stderr.decode()


def params(home, **changes):
    return dict(
        dict(
            path=str(home),
            release=RELEASE,
            code="archive",
            user="nobody",
            run_as=[],
            collectstatic=True,
            filename="source.tar.gz",
            project_dir="",
        ),
        **changes,
    )


def test_a_build_unpacks_links_collects_and_renames(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    venv = home / "venvs" / "key"
    (venv / "bin").mkdir(parents=True)
    module = Module(params(home))
    collected = []

    def run(self, command, cwd):
        # collectstatic, as the app's user, writes into the release's static directory.
        collected.append((command[-4:], cwd))
        (tmp_path / "home/releases" / f"{RELEASE}.partial/static/site.css").write_text("a")

    monkeypatch.setattr(Build, "run", run)
    build = Build(module, archive_of({"manage.py": b"print()\n", "app/views.py": b"x = 1\n"}))
    build.unpack()
    build.finish(str(venv), plan("present", True, True))

    release = home / "releases" / RELEASE
    assert not (home / "releases" / f"{RELEASE}.partial").exists()
    assert (release / "app/app/views.py").read_bytes() == b"x = 1\n"
    assert os.readlink(release / "venv") == str(venv)
    partial = home / "releases" / f"{RELEASE}.partial"
    assert collected == [(["-m", "django", "collectstatic", "--noinput"], str(partial / "app"))]
    # Published files are root's, whoever wrote them.
    for path in (release / "static", release / "static/site.css", release / "app/manage.py"):
        assert (path.stat().st_uid, path.stat().st_gid) == (0, 0)


def test_collectstatic_runs_in_the_project_below_the_source_s_root(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    venv = home / "venvs" / "key"
    (venv / "bin").mkdir(parents=True)
    collected = []
    monkeypatch.setattr(Build, "run", lambda self, command, cwd: collected.append(cwd))
    files = {"requirements.txt": b"Django\n", "site/manage.py": b"print()\n"}
    build = Build(Module(params(home, project_dir="site")), archive_of(files))
    build.unpack()
    build.finish(str(venv), plan("present", True, True))
    assert collected == [str(home / "releases" / f"{RELEASE}.partial" / "app" / "site")]


def test_a_source_without_the_project_directory_fails_the_build(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    build = Build(Module(params(home, project_dir="backend")), archive_of({"manage.py": b"\n"}))
    build.unpack()
    with pytest.raises(BuildError, match="the source has no directory 'backend'"):
        build.project()


def test_a_build_starts_again_from_an_empty_directory(tmp_path):
    home = tmp_path / "home"
    partial = home / "releases" / f"{RELEASE}.partial"
    (partial / "app").mkdir(parents=True)
    (partial / "app/left-over.py").write_text("from an interrupted build")
    Build(Module(params(home)), archive_of({"manage.py": b"\n"})).unpack()
    assert sorted(os.listdir(partial / "app")) == ["manage.py"]


def test_a_package_is_copied_beside_the_code(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    module = Module(params(home, code="package", filename="shop-1.0-py3-none-any.whl"))
    Build(module, b"wheel bytes").unpack()
    partial = home / "releases" / f"{RELEASE}.partial"
    assert (partial / "shop-1.0-py3-none-any.whl").read_bytes() == b"wheel bytes"
    assert os.listdir(partial / "app") == []


def test_a_failed_collectstatic_leaves_no_release(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    # A python that fails as collectstatic would.
    (venv / "bin/python").write_text("#!/bin/sh\necho 'STATIC_ROOT is not writable' >&2\nexit 1\n")
    (venv / "bin/python").chmod(0o755)
    build = Build(Module(params(home)), archive_of({"manage.py": b"\n"}))
    build.unpack()
    with pytest.raises(BuildError, match="STATIC_ROOT is not writable"):
        build.finish(str(venv), plan("present", True, True))
    assert not (home / "releases" / RELEASE).exists()
