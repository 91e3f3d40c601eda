"""app_build through its action plugin, on localhost: a small archive shipped inside the
module's arguments, a large one transferred as a file, a build that stops for the
virtualenv and completes once it is there, with a real Django collectstatic."""

import io
import json
import os
import subprocess
import tarfile

from conftest import BIN, ansible_env, run_module

RELEASE, LARGE = "0123456789abcdef", "fedcba9876543210"
PROJECT = {
    "manage.py": "",
    "requirements.txt": "django\n",
    "proj/__init__.py": "",
    "proj/settings.py": (
        "SECRET_KEY = 'test'\n"
        "INSTALLED_APPS = ['django.contrib.staticfiles', 'site_app']\n"
        "STATIC_URL = '/static/'\n"
        # The release's static/, as the django_app role's environment says.
        "STATIC_ROOT = '../static'\n"
    ),
    "site_app/__init__.py": "",
    "site_app/static/site_app/site.css": "body { color: black; }\n",
}


def archive(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            data = content if isinstance(content, bytes) else content.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def build(home, src, release=RELEASE, check=False, **args):
    args = {
        "path": str(home),
        "release": release,
        "code": "archive",
        "src": src,
        "requirements_file": "requirements.txt",
        "packages": ["chaussette==1.3.0"],
        "user": "nobody",
        # As the role's webstack_run.py would: the app's settings, its code on the path.
        "run_as": ["env", "DJANGO_SETTINGS_MODULE=proj.settings", "PYTHONPATH=."],
        **args,
    }
    if not check:
        return run_module("app_build", **args)
    run = subprocess.run(
        [
            str(BIN / "ansible"),
            "localhost",
            "--check",
            "-m",
            "webstack.circus.app_build",
            "-a",
            json.dumps(args),
        ],
        capture_output=True,
        text=True,
        env=ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json"),
        check=False,
    )
    return json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def complete_venv(venv):
    """A virtualenv with Django, as the role's install leaves it (.complete last)."""
    os.makedirs(f"{venv}/bin")
    with open(f"{venv}/bin/python", "w") as python:
        python.write(f'#!/bin/sh\nexec {BIN / "python"} "$@"\n')
    os.chmod(f"{venv}/bin/python", 0o755)
    open(f"{venv}/.complete", "w").close()


def test_a_release_is_built_in_one_call_once_its_virtualenv_is_there(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    src = archive(tmp_path / "source.tar.gz", PROJECT)

    checked = build(home, src, check=True)
    assert checked["changed"] and not checked["built"], checked
    assert os.listdir(home / "releases") == []

    first = build(home, src)
    assert first["changed"] and not first["built"] and not first["venv_complete"], first
    assert first["venv"] == checked["venv"]
    assert first["actions"] == ["unpack"]
    assert first["shipped"] == "in the arguments"
    partial = home / "releases" / f"{RELEASE}.partial"
    assert (partial / "app" / "proj" / "settings.py").exists()

    complete_venv(first["venv"])
    done = build(home, src, code="present")
    assert done["changed"] and done["built"], done
    assert done["actions"] == ["link venv", "collectstatic", "complete"]
    release = home / "releases" / RELEASE
    assert not partial.exists()
    assert os.readlink(release / "venv") == first["venv"]
    css = release / "static" / "site_app" / "site.css"
    assert css.read_text() == PROJECT["site_app/static/site_app/site.css"]
    assert (css.stat().st_uid, (release / "static").stat().st_uid) == (0, 0)

    again = build(home, src)
    assert not again["changed"] and again["built"], again


def test_a_large_archive_is_transferred_and_built_at_once(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    # Random bytes do not compress: the archive is above the 8 MiB sent inline.
    large = dict(PROJECT, **{"site_app/static/site_app/video.bin": os.urandom(9 * 1024 * 1024)})
    src = archive(tmp_path / "large.tar.gz", large)
    assert os.path.getsize(src) > 8 * 1024 * 1024
    venv = build(home, src, release=LARGE, check=True)["venv"]
    complete_venv(venv)
    done = build(home, src, release=LARGE)
    assert done["built"] and done["actions"][0] == "unpack", done
    assert done["shipped"] == "as a file"
    video = home / "releases" / LARGE / "static" / "site_app" / "video.bin"
    assert video.read_bytes() == large["site_app/static/site_app/video.bin"]


def test_a_missing_requirements_file_is_refused_before_anything_is_written(tmp_path):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True)
    src = archive(tmp_path / "source.tar.gz", PROJECT)
    refused = build(home, src, requirements_file="requirements/prod.txt")
    assert refused["failed"], refused
    assert (
        "the requirements file 'requirements/prod.txt' is not in the app's source" in refused["msg"]
    )
    assert os.listdir(home / "releases") == []


def settings_with(**lines):
    """The project's settings with more lines (name = Python expression)."""
    extra = "".join(f"{name} = {value}\n" for name, value in lines.items())
    return dict(PROJECT, **{"proj/settings.py": PROJECT["proj/settings.py"] + extra})


def built_on_complete_venv(tmp_path, files, **args):
    home = tmp_path / "home"
    (home / "releases").mkdir(parents=True, exist_ok=True)
    src = archive(tmp_path / "source.tar.gz", files)
    complete_venv(build(home, src, check=True)["venv"])
    return home / "releases" / RELEASE, build(home, src, **args)


def test_an_app_s_own_static_root_and_its_build_step_are_published(tmp_path):
    # As many apps are written: STATIC_ROOT from BASE_DIR, hashed names and a manifest
    # that the workers read from STATIC_ROOT, and an asset built before collectstatic.
    files = settings_with(
        STATIC_ROOT="__import__('pathlib').Path(__file__).resolve().parent.parent / 'staticfiles'",
        STORAGES="{'staticfiles': {'BACKEND': "
        "'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'}}",
    )
    build_step = "open('site_app/static/site_app/built.js', 'w').write('built')"
    release, done = built_on_complete_venv(
        tmp_path, files, build_commands=[["python", "-c", build_step]]
    )
    assert done["built"], done
    commands = [line for line in done["output"] if line.startswith("$ ")]
    assert commands == [f"$ python -c {build_step}", "$ collectstatic"]
    assert os.readlink(release / "static") == "app/staticfiles"
    manifest = json.loads((release / "app/staticfiles/staticfiles.json").read_text())
    assert set(manifest["paths"]) == {"site_app/site.css", "site_app/built.js"}
    hashed = release / "static" / manifest["paths"]["site_app/built.js"]
    assert hashed.read_text() == "built"
    # The build step wrote as the app's user into the code, which is root's again.
    assert (release / "app/site_app/static/site_app/built.js").stat().st_uid == 0
    assert (hashed.stat().st_uid, (release / "app").stat().st_uid) == (0, 0)


def test_a_storage_that_writes_elsewhere_fails_the_build(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    files = settings_with(
        STORAGES="{'staticfiles': {'BACKEND': "
        "'django.contrib.staticfiles.storage.StaticFilesStorage',"
        f" 'OPTIONS': {{'location': '{elsewhere}'}}}}}}",
    )
    release, failed = built_on_complete_venv(tmp_path, files)
    assert failed["failed"], failed
    assert (
        "collectstatic left 1 of the app's static files out of "
        f"{release}.partial/static, such as site_app/site.css" in failed["msg"]
    )
    assert not release.exists()


def test_a_configuration_file_the_settings_import_is_linked_before_collectstatic(tmp_path):
    # The settings import a file the source does not have (as NetBox's configuration.py):
    # without the link, they set no STATIC_ROOT and the build fails.
    files = dict(PROJECT)
    files["proj/settings.py"] = files["proj/settings.py"].replace(
        "STATIC_ROOT = '../static'\n", "from proj.local_settings import *\n"
    )
    config = tmp_path / "home" / "config" / "proj"
    config.mkdir(parents=True)
    (config / "local_settings.py").write_text("STATIC_ROOT = '../static'\n")
    release, done = built_on_complete_venv(tmp_path, files, config_files=["proj/local_settings.py"])
    assert done["built"], done
    link = release / "app" / "proj" / "local_settings.py"
    assert os.readlink(link) == str(config / "local_settings.py")
    assert (release / "static" / "site_app" / "site.css").exists()
