"""app_build: the virtualenv's name, the requirements file read from the archive, the
steps, and a build on a real directory (run_command runs the real tar)."""

import hashlib
import io
import os
import pwd
import subprocess
import tarfile

import pytest

from ansible_collections.webstack.circus.plugins.modules.app_build import (
    Build,
    BuildError,
    named_requirements,
    packages_to_install,
    pip_install_argv,
    pip_settings,
    plan,
    requirements_contents,
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


def test_a_pin_changed_in_an_included_file_names_another_virtualenv(tmp_path):
    def digest(files):
        home = tmp_path / str(len(list(tmp_path.iterdir())))
        params_ = params(home, code="archive", requirements_file="requirements-celery.txt")
        first, *included = requirements_contents(params_, archive_of(files), "")
        return requirements_digest(first, "requirements-celery.txt", included)

    top = b"-r requirements.txt\ncelery==5.4.0\n"
    old = digest({"requirements-celery.txt": top, "requirements.txt": b"Django==5.2\n"})
    new = digest({"requirements-celery.txt": top, "requirements.txt": b"Django==5.2\nws==1\n"})
    assert old != new
    # A file that includes none keeps the digest of its content: hosts keep their
    # virtualenvs.
    alone = b"Django==5.2\n"
    assert digest({"requirements-celery.txt": alone}) == hashlib.sha256(alone).hexdigest()


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


def test_a_build_that_installs_the_virtualenv_goes_on_to_complete_the_release():
    assert plan("archive", True, False, venv_install=True) == [
        "unpack",
        "install venv",
        "link venv",
        "collectstatic",
        "complete",
    ]
    assert plan("archive", True, True, venv_install=True) == plan("archive", True, True)


def test_pip_s_settings_name_the_index_and_the_ca_bundle_only_when_given():
    assert pip_settings("https://u:p@pypi.test/simple", "/v/pip-ca.pem").splitlines()[1:] == [
        "[global]",
        "index-url = https://u:p@pypi.test/simple",
        "cert = /v/pip-ca.pem",
    ]
    assert pip_settings("", "/etc/ssl/ca.pem").splitlines()[1:] == [
        "[global]",
        "cert = /etc/ssl/ca.pem",
    ]


def test_one_pip_run_installs_the_packages_the_package_and_the_requirements():
    argv = pip_install_argv("/v", "/c/pip-v.log", "/w/k", ["chaussette==1.3.0"], "/p/app.whl", "")
    assert argv == [
        "/v/bin/pip", "install", "--disable-pip-version-check", "--log", "/c/pip-v.log",
        "--no-index", "--find-links", "/w/k", "chaussette==1.3.0", "/p/app.whl",
    ]  # fmt: skip
    argv = pip_install_argv("/v", "/c/l.log", None, [], "", "/r/app/requirements.txt")
    assert argv[-2:] == ["--requirement", "/r/app/requirements.txt"]
    assert "--no-index" not in argv


class Module:
    """run_command as AnsibleModule's, running the command for real."""

    def __init__(self, params):
        self.params = params
        self.commands = []

    def run_command(self, argv, cwd=None, data=None, binary_data=False, environ_update=None):
        self.commands.append(argv)
        run = subprocess.run(argv, cwd=cwd, input=data, capture_output=True, check=False)
        return run.returncode, run.stdout.decode(), run.stderr.decode()


class Installer(Module):
    """run_command that records the virtualenv's commands and their environment, and
    answers them as python3 -m venv and pip would (pip_rc for pip)."""

    def __init__(self, params, pip_rc=0):
        super().__init__(params)
        self.environments = []
        self.pip_rc = pip_rc

    def run_command(self, argv, cwd=None, data=None, binary_data=False, environ_update=None):
        self.commands.append(argv)
        self.environments.append(environ_update)
        if argv[4:7] == ["python3", "-m", "venv"]:
            os.makedirs(os.path.join(argv[7], "bin"))
            return 0, "", ""
        settings = os.path.join(cwd, "pip.conf")
        self.settings_owner = os.lstat(settings).st_gid if os.path.exists(settings) else None
        return self.pip_rc, "", "ERROR: No matching distribution found for nosuch" * self.pip_rc


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
            build_commands=[],
            config_files=[],
        ),
        **changes,
    )


def python_of(venv, script):
    """venv/bin/python as a shell script: $3 is the directory the module expects
    STATIC_ROOT to be (python -c COLLECT TARGET)."""
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "bin/python").write_text(f"#!/bin/sh\n{script}\n")
    (venv / "bin/python").chmod(0o755)
    return str(venv)


# collectstatic where the settings read the role's DJANGO_STATIC_ROOT.
COLLECTS = 'echo body > "$3/site.css"; echo "1 static file copied"'


def built(tmp_path, files, script=COLLECTS, **changes):
    """A build of files on a virtualenv whose python runs script; the module."""
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True, exist_ok=True)
    module = Module(params(home, **changes))
    build = Build(module, archive_of(files))
    build.unpack()
    module.commands.clear()  # tar's
    build.finish(python_of(tmp_path / "venv", script), plan("present", True, True))
    return home / "releases" / RELEASE, module


def owner(path):
    return path.lstat().st_uid, path.lstat().st_gid


def test_a_build_unpacks_links_collects_and_renames(tmp_path):
    files = {"manage.py": b"print()\n", "app/views.py": b"x = 1\n"}
    release, module = built(tmp_path, files)
    partial = tmp_path / "home/releases" / f"{RELEASE}.partial"
    assert not partial.exists()
    assert (release / "app/app/views.py").read_bytes() == b"x = 1\n"
    assert os.readlink(release / "venv") == str(tmp_path / "venv")
    # Django's collectstatic through the app's Python, with the release's virtualenv
    # first in PATH, asked to collect into the release's static/.
    [command] = module.commands
    assert command[:2] == ["/usr/bin/env", f"PATH={partial}/venv/bin:/usr/local/bin:/usr/bin:/bin"]
    assert command[2:4] == [f"{partial}/venv/bin/python", "-c"]
    assert command[5] == str(partial / "static")
    assert (release / "static/site.css").read_text() == "body\n"
    # Published files are root's, whoever wrote them.
    for path in (release / "static", release / "static/site.css", release / "app/manage.py"):
        assert owner(path) == (0, 0)


def test_collectstatic_runs_in_the_project_below_the_source_s_root(tmp_path):
    files = {"requirements.txt": b"Django\n", "site/manage.py": b"print()\n"}
    built(tmp_path, files, script=f"pwd > {tmp_path}/cwd; {COLLECTS}", project_dir="site")
    partial = tmp_path / "home/releases" / f"{RELEASE}.partial"
    assert (tmp_path / "cwd").read_text().strip() == str(partial / "app" / "site")


def test_the_app_s_own_static_root_in_its_source_is_collected_and_linked(tmp_path):
    # settings.py says STATIC_ROOT = BASE_DIR / "staticfiles": asked for the release's
    # static/, the app's Python names its own; asked for that, it collects there.
    partial = tmp_path / "home/releases" / f"{RELEASE}.partial"
    own = partial / "app/site/staticfiles"
    script = f'if [ "$3" != "{own}" ]; then echo "{own}"; exit 3; fi; {COLLECTS}'
    release, module = built(tmp_path, {"site/manage.py": b"\n"}, script=script, project_dir="site")
    assert [command[5] for command in module.commands] == [str(partial / "static"), str(own)]
    # static/ links to it: the workers find the manifest where the settings say, and
    # the role publishes the same files.
    assert os.readlink(release / "static") == "app/site/staticfiles"
    assert (release / "static/site.css").read_text() == "body\n"
    assert owner(release / "app/site/staticfiles/site.css") == (0, 0)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("/var/www/static", "STATIC_ROOT is /var/www/static, outside the release"),
        ("", "the app's settings set no STATIC_ROOT"),
    ],
)
def test_a_static_root_the_role_cannot_publish_fails_the_build(tmp_path, reply, error):
    with pytest.raises(BuildError, match=error):
        built(tmp_path, {"manage.py": b"\n"}, script=f'echo "{reply}"; exit 3')
    assert not (tmp_path / "home/releases" / RELEASE).exists()
    assert not os.path.exists("/var/www/static")


def test_an_empty_collectstatic_fails_the_build(tmp_path):
    with pytest.raises(
        BuildError, match=r"collectstatic put no file in .*django_app_collectstatic"
    ):
        built(tmp_path, {"manage.py": b"\n"}, script='echo "0 static files copied"')
    assert not (tmp_path / "home/releases" / RELEASE).exists()


def test_build_commands_write_into_the_code_before_collectstatic(tmp_path):
    nobody = pwd.getpwnam("nobody")
    commands = [
        ["sh", "-c", "stat -c %u . > built-by; echo compiled > messages.mo"],
        ["sh", "-c", "test -f messages.mo && echo second"],
    ]
    release, module = built(tmp_path, {"manage.py": b"\n"}, build_commands=commands)
    # In order, in the project, the code the app's user's while they ran, then root's.
    assert [command[2:] for command in module.commands[:2]] == commands
    assert (release / "app/built-by").read_text().strip() == str(nobody.pw_uid)
    for path in (release / "app", release / "app/messages.mo", release / "app/built-by"):
        assert owner(path) == (0, 0)


def test_a_failed_build_command_fails_the_build_and_gives_the_code_back(tmp_path):
    commands = [["sh", "-c", "echo 'mkdocs: not found' >&2; exit 127"]]
    with pytest.raises(BuildError, match=r"sh -c .* failed .*rc 127.*mkdocs: not found"):
        built(tmp_path, {"manage.py": b"\n"}, build_commands=commands)
    partial = tmp_path / "home/releases" / f"{RELEASE}.partial"
    assert owner(partial / "app") == (0, 0) and owner(partial / "app/manage.py") == (0, 0)
    assert not (tmp_path / "home/releases" / RELEASE).exists()


def test_the_requirements_name_their_distributions():
    content = (
        b"# the server\n"
        b"Django==5.2.1  # web\n"
        b"gunicorn==26.0.0 \\\n    --hash=sha256:0123\n"
        b"uvicorn[standard]>=0.30 ; python_version >= '3.10'\n"
        b"-r base.txt\n"
        b"--index-url https://example.invalid/simple\n"
        b"zope.interface~=6.0\n"
    )
    assert named_requirements(content) == {
        "django": "Django==5.2.1",
        "gunicorn": "gunicorn==26.0.0",
        "uvicorn": "uvicorn[standard]>=0.30",
        "zope-interface": "zope.interface~=6.0",
    }


def test_the_app_s_own_server_pin_wins_over_the_role_s():
    content = b"Django==5.2.1\nGunicorn==26.0.0\n"
    install, overridden = packages_to_install(["gunicorn==27.0.1", "celery==5.4.0"], content)
    assert install == ["celery==5.4.0"]
    assert overridden == [("gunicorn==27.0.1", "Gunicorn==26.0.0")]
    assert packages_to_install(["gunicorn==27.0.1"], None) == (["gunicorn==27.0.1"], [])


def test_a_source_without_the_project_directory_fails_the_build(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    build = Build(Module(params(home, project_dir="backend")), archive_of({"manage.py": b"\n"}))
    build.unpack()
    with pytest.raises(BuildError, match="the source has no directory 'backend'"):
        build.project()


def test_configuration_files_are_linked_into_the_code(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    names = ["netbox/netbox/configuration.py", "local_settings.py", "new/dir/app.ini"]
    files = {"netbox/netbox/configuration.py": b"# from the source\n", "manage.py": b"\n"}
    build = Build(Module(params(home, config_files=names)), archive_of(files))
    build.unpack()
    build.link_config()
    build.link_config()  # again, as the call after the virtualenv does
    app = home / "releases" / f"{RELEASE}.partial" / "app"
    for name in names:
        assert os.readlink(app / name) == str(home / "config" / name)


def test_a_directory_where_a_configuration_file_goes_fails_the_build(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    files = {"conf/x.py": b"\n"}
    build = Build(Module(params(home, config_files=["conf"])), archive_of(files))
    build.unpack()
    with pytest.raises(BuildError, match="the source has a directory at conf"):
        build.link_config()


def test_a_build_starts_again_from_an_empty_directory(tmp_path):
    home = tmp_path / "home"
    partial = home / "releases" / f"{RELEASE}.partial"
    (partial / "app").mkdir(parents=True)
    (partial / "app/left-over.py").write_text("from an interrupted build")
    Build(Module(params(home)), archive_of({"manage.py": b"\n"})).unpack()
    assert sorted(os.listdir(partial / "app")) == ["manage.py"]


def test_a_build_removes_what_failed_builds_of_other_releases_left(tmp_path):
    releases = tmp_path / "home" / "releases"
    for name in ("fedcba9876543210.partial/app/x.py", "fedcba9876543210/app/y.py"):
        (releases / name).parent.mkdir(parents=True)
        (releases / name).write_text("")
    build = Build(Module(params(tmp_path / "home")), archive_of({"manage.py": b"\n"}))
    build.unpack()
    build.remove_other_partials()
    assert sorted(os.listdir(releases)) == [f"{RELEASE}.partial", "fedcba9876543210"]


def test_a_package_is_copied_beside_the_code(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    module = Module(params(home, code="package", filename="shop-1.0-py3-none-any.whl"))
    Build(module, b"wheel bytes").unpack()
    partial = home / "releases" / f"{RELEASE}.partial"
    assert (partial / "shop-1.0-py3-none-any.whl").read_bytes() == b"wheel bytes"
    assert os.listdir(partial / "app") == []


def test_a_failed_collectstatic_leaves_no_release(tmp_path):
    # A python that fails as collectstatic would.
    with pytest.raises(BuildError, match=r"collectstatic failed .*STATIC_ROOT is not writable"):
        built(
            tmp_path, {"manage.py": b"\n"}, script="echo 'STATIC_ROOT is not writable' >&2; exit 1"
        )
    assert not (tmp_path / "home/releases" / RELEASE).exists()


CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def installing(tmp_path, pip_rc=0, **changes):
    home = tmp_path / "home"
    (home / "releases" / (RELEASE + ".partial") / "app").mkdir(parents=True)
    venv = home / "venvs" / "0123456789abcdef"
    venv.mkdir(parents=True)
    (venv / "left.txt").write_text("an interrupted install")
    module = Installer(
        params(
            home,
            **dict(
                dict(
                    requirements_file="requirements.txt",
                    packages=["chaussette==1.3.0"],
                    pip_index_url="https://u:p@pypi.test/simple",
                    pip_cert=CA,
                    pip_cache=str(home / "cache"),
                    pip_find_links=None,
                ),
                **changes,
            ),
        ),
        pip_rc,
    )
    return Build(module, None), module, venv


def test_the_virtualenv_is_built_by_the_app_s_user_then_given_to_root(tmp_path):
    build, module, venv = installing(tmp_path)
    build.install_venv(str(venv), ["chaussette==1.3.0"])
    create, install = module.commands
    assert create == ["runuser", "-u", "nobody", "--", "python3", "-m", "venv", str(venv)]
    assert install[:5] == ["runuser", "-u", "nobody", "--", f"{venv}/bin/pip"]
    assert install[-3:] == [
        "chaussette==1.3.0",
        "--requirement",
        f"{build.partial}/app/requirements.txt",
    ]
    # The index (and its password) only in pip.conf, root's, read by the app's group.
    assert not any("pypi.test" in arg for arg in install)
    nobody = pwd.getpwnam("nobody")
    assert "index-url = https://u:p@pypi.test/simple" in (venv / "pip.conf").read_text()
    assert oct((venv / "pip.conf").stat().st_mode & 0o777) == "0o640"
    # The app's user's pip read it; then root's alone, as the whole virtualenv.
    assert module.settings_owner == nobody.pw_gid
    assert owner(venv / "pip.conf") == (0, 0)
    assert (venv / "pip-ca.pem").read_text() == CA + "\n"
    assert module.environments[1] == {
        "PIP_CACHE_DIR": str(tmp_path / "home" / "cache"),
        "PIP_CERT": f"{venv}/pip-ca.pem",
    }
    assert not (venv / "left.txt").exists()
    assert owner(venv) == (0, 0) and owner(venv / "bin") == (0, 0)
    assert (venv / ".complete").exists()


def test_a_failed_pip_leaves_the_virtualenv_incomplete_and_names_pip(tmp_path):
    build, _module, venv = installing(tmp_path, pip_rc=1)
    with pytest.raises(BuildError, match=r"pip install failed \(rc 1\): ERROR: No matching"):
        build.install_venv(str(venv), ["nosuch"])
    assert not (venv / ".complete").exists()


def test_a_wheelhouse_is_installed_from_alone_and_a_bundle_path_is_used_as_it_is(tmp_path):
    build, module, venv = installing(
        tmp_path, pip_find_links="/srv/w/k", pip_cert="/etc/ssl/ca.pem", pip_index_url=""
    )
    build.install_venv(str(venv), [])
    assert module.commands[1][9:12] == ["--no-index", "--find-links", "/srv/w/k"]
    assert module.environments[1]["PIP_CERT"] == "/etc/ssl/ca.pem"
    assert (venv / "pip.conf").read_text().splitlines()[1:] == [
        "[global]",
        "cert = /etc/ssl/ca.pem",
    ]


def test_a_package_source_is_installed_with_the_packages_and_no_requirements_file(tmp_path):
    build, module, venv = installing(tmp_path, code="package", filename="shop-1.0-py3-none-any.whl")
    build.install_venv(str(venv), ["chaussette==1.3.0"])
    assert module.commands[1][-2:] == [
        "chaussette==1.3.0",
        f"{build.partial}/shop-1.0-py3-none-any.whl",
    ]
