"""Offline and proxied installs: the host's own package index is a closed port
(prepare.yml), the app's virtualenv came from the controller's wheelhouse, and Circus from
the HTTPS index prepare.yml serves, with the password and the CA the role gave pip."""

import re

import pytest

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CIRCUS_PIP = "/opt/circus/bin/pip"


def test_the_app_s_pip_reaches_no_index(host):
    download = host.run(
        "/srv/demo/current/venv/bin/pip download --no-deps --dest /tmp/offline --timeout 5"
        " --retries 0 Django==5.2.19"
    )
    assert download.rc != 0, download.stdout
    assert "127.0.0.1:9" in download.stdout + download.stderr


def test_the_app_s_packages_came_from_the_wheelhouse(host):
    logs = host.run("cat /srv/demo/cache/pip-*.log").stdout
    pattern = r"Processing /srv/demo/wheelhouses/[0-9a-f]{16}/django-5\.2\.19-py3-none-any\.whl"
    assert re.search(pattern, logs), logs[-3000:]
    assert "Ignoring indexes: https://127.0.0.1:9/simple/" in logs
    assert "Looking in indexes" not in logs
    wheelhouses = host.file("/srv/demo/wheelhouses").listdir()
    assert len(wheelhouses) == 1
    assert host.file(f"/srv/demo/wheelhouses/{wheelhouses[0]}/.complete").exists


def test_circus_came_from_the_served_index_with_its_password(host):
    log = host.file("/srv/pip-index/access.log").content_string
    assert "deploy GET /simple/circus/ 200" in log, log
    assert re.search(r"deploy GET /files/circus-[0-9.]+-py3-none-any\.whl 200", log), log


def test_pip_s_settings_keep_the_password_to_root(host):
    settings = host.file("/opt/circus/pip.conf")
    assert (settings.user, settings.group, settings.mode) == ("root", "root", 0o600)
    assert (
        "index-url = https://deploy:n0t-a-real-s3cret@localhost:8443/simple/"
        in settings.content_string
    )
    assert "cert = /opt/circus/pip-ca.pem" in settings.content_string
    assert host.file("/opt/circus/pip-ca.pem").content_string.startswith(
        "-----BEGIN CERTIFICATE-----"
    )


@pytest.mark.parametrize(
    ("bundle", "trusted"), [("/opt/circus/pip-ca.pem", True), (SYSTEM_BUNDLE, False)]
)
def test_pip_trusts_the_index_only_with_the_role_s_ca(host, bundle, trusted):
    download = host.run(
        f"PIP_CERT={bundle} {CIRCUS_PIP} download --no-deps --dest /tmp/with-ca --timeout 5"
        " --retries 0 circus==0.19.0"
    )
    output = download.stdout + download.stderr
    assert (download.rc == 0) is trusted, output
    assert ("CERTIFICATE_VERIFY_FAILED" in output) is not trusted, output
