"""The quick start's site as its users reach it: over HTTPS with a certificate from the
ACME CA, renewed on the host by certbot's own service without a failed request; its
management commands run with webstack.circus.manage, secrets from the vault; its data in
PostgreSQL on the db host."""

import http.client
import json
import os
import pathlib
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest
import yaml

WEB, DB = "webstack-user-web", "webstack-user-db"
WEB_ADDRESS, ACME_ADDRESS = "10.213.77.10", "10.213.77.12"
DOMAIN = "www.mysite.test"
EPHEMERAL = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
SCENARIO = pathlib.Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
PROJECT = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RENEWAL = "/etc/letsencrypt/renewal/webstack-mysite.conf"


def docker(host, *command, check=True):
    result = subprocess.run(
        ["docker", "exec", host, *command], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 or not check, result.stdout + result.stderr
    return result


def quick_start_env(vault_password_file=SCENARIO / "vault-password"):
    """The environment of ansible-playbook as the quick start runs it: the tarball's
    collection, the vault opened with its password file."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(EPHEMERAL / "collections"),
        ANSIBLE_VAULT_PASSWORD_FILE=str(vault_password_file),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
    )
    return env


def ansible(*args, vault_password_file=SCENARIO / "vault-password"):
    """ansible-playbook as the quick start runs it."""
    return subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, *args],
        env=quick_start_env(vault_password_file),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def vault():
    result = subprocess.run(
        [
            "ansible-vault",
            "view",
            "--vault-password-file",
            str(SCENARIO / "vault-password"),
            str(PROJECT / "docs/quickstart/group_vars/all/vault.yml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return yaml.safe_load(result.stdout)


def acme_root():
    """The root of the chains pebble issues (made anew each time pebble starts), from its
    management interface, whose own certificate is the test CA's."""
    context = ssl.create_default_context(cafile=str(EPHEMERAL / "acme-ca.pem"))
    context.check_hostname = False
    with urllib.request.urlopen(f"https://{ACME_ADDRESS}:15000/roots/0", context=context) as answer:
        return answer.read().decode()


def tls_context():
    return ssl.create_default_context(cadata=acme_root())


def fetch(context, method, path, headers=None, body=None):
    """One request to the site, by its name, at the web host's address."""
    connection = http.client.HTTPSConnection(DOMAIN, 443, context=context, timeout=10)
    connection.sock = context.wrap_socket(
        socket.create_connection((WEB_ADDRESS, 443), timeout=10), server_hostname=DOMAIN
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


def served_certificate(context):
    raw = socket.create_connection((WEB_ADDRESS, 443), timeout=10)
    with context.wrap_socket(raw, server_hostname=DOMAIN) as tls:
        return tls.getpeercert()


def served_serial(context):
    return served_certificate(context)["serialNumber"]


def test_the_site_answers_over_https_with_the_acme_ca_s_certificate():
    context = tls_context()
    status, headers, body = fetch(context, "GET", "/")
    assert status == 200, body[:500]
    assert "max-age=" in headers["Strict-Transport-Security"]
    assert served_certificate(context)["subjectAltName"] == (("DNS", DOMAIN),)


def test_http_redirects_to_https():
    connection = http.client.HTTPConnection(WEB_ADDRESS, 80, timeout=10)
    connection.request("GET", "/admin/", headers={"Host": DOMAIN})
    response = connection.getresponse()
    assert (response.status, response.headers["Location"]) == (301, f"https://{DOMAIN}/admin/")


def test_certbot_s_timer_renews_and_reloads_nginx_only_then():
    assert docker(WEB, "systemctl", "is-enabled", "certbot.timer").stdout.strip() == "enabled"
    assert docker(WEB, "systemctl", "is-active", "certbot.timer").stdout.strip() == "active"
    renewal = docker(WEB, "cat", RENEWAL).stdout
    assert "renew_hook = systemctl reload nginx" in renewal
    assert "authenticator = webroot" in renewal


def test_a_renewal_by_certbot_s_service_is_served_without_a_failed_request():
    """The service the timer starts, made to find the certificate due: it renews through
    the private CA (trusted by the role's drop-in), and nginx serves the new certificate
    after its reload, while requests keep being answered."""
    context = tls_context()
    before = served_serial(context)
    outcomes, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                outcomes.append(fetch(context, "GET", "/")[0])
            except (OSError, http.client.HTTPException) as error:
                outcomes.append(repr(error))
            time.sleep(0.02)

    original = docker(WEB, "cat", RENEWAL).stdout
    thread = threading.Thread(target=load)
    thread.start()
    try:
        # Pebble's certificates last years: due once the window is wider than that.
        docker(WEB, "sed", "-i", r"1i renew_before_expiry = 36500 days", RENEWAL)
        docker(WEB, "systemctl", "start", "certbot.service")
        deadline = time.monotonic() + 60
        while served_serial(context) == before:
            assert time.monotonic() < deadline, docker(WEB, "journalctl", "-u", "certbot").stdout
            time.sleep(0.5)
        time.sleep(1)
    finally:
        stop.set()
        thread.join()
        docker(WEB, "sed", "-i", "/^renew_before_expiry = 36500 days$/d", RENEWAL)
    failed = [outcome for outcome in outcomes if outcome != 200]
    assert len(outcomes) > 20 and not failed, failed[:5]
    assert docker(WEB, "cat", RENEWAL).stdout.count("renew_hook") == original.count("renew_hook")


def site_file_digest():
    return docker(WEB, "sha256sum", "/etc/nginx/sites-available/mysite.conf").stdout


def test_a_name_that_fails_its_challenge_fails_the_run_and_the_site_keeps_its_certificate():
    """A name the CA cannot reach (no DNS record): certbot is refused, the run fails and
    names the site, and nginx serves the certificate and configuration it had."""
    context = tls_context()
    serial, digest = served_serial(context), site_file_digest()
    site = {
        "name": "mysite",
        "server_names": [DOMAIN, "nowhere.mysite.test"],
        "upstreams": ["127.0.0.1:8000"],
        "static_root": "/srv/mysite/static",
    }
    run = ansible("webstack.circus.site", "-e", json.dumps({"nginx_proxy_sites": [site]}))
    assert run.returncode != 0
    assert "No certificate for site mysite (www.mysite.test, nowhere.mysite.test)" in run.stdout
    assert (served_serial(context), site_file_digest()) == (serial, digest)
    assert fetch(context, "GET", "/")[0] == 200
    again = ansible("webstack.circus.site")
    assert again.returncode == 0, again.stdout[-6000:]
    assert served_serial(context) == serial


def test_a_vault_that_does_not_open_stops_the_run_before_any_host_changes(tmp_path):
    wrong = tmp_path / "vault-password"
    wrong.write_text("not-the-password\n")
    digest = site_file_digest()
    run = ansible("webstack.circus.site", vault_password_file=wrong)
    assert run.returncode != 0
    assert "Decryption failed" in run.stdout, run.stdout[-3000:]
    assert site_file_digest() == digest


def admin_login(context, username, password):
    """A browser's login to the admin, through nginx: the form's CSRF token and cookie,
    then the POST with the Origin and Referer a browser sends."""
    status, headers, body = fetch(context, "GET", "/admin/login/")
    assert status == 200, body[:500]
    cookie = re.search(r"csrftoken=([^;]+)", headers["Set-Cookie"]).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "username": username,
            "password": password,
            "next": "/admin/",
        }
    )
    return fetch(
        context,
        "POST",
        "/admin/login/",
        headers={
            "Cookie": f"csrftoken={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"https://{DOMAIN}",
            "Referer": f"https://{DOMAIN}/admin/login/",
        },
        body=form,
    )


def test_an_admin_made_by_a_management_command_logs_in_its_user_in_postgresql(vault):
    username = f"admin{time.time_ns()}"
    extra = {
        "manage": ["createsuperuser", "--noinput", "--username", username, "--email", "a@x.test"],
        "manage_env": {"DJANGO_SUPERUSER_PASSWORD": "{{ vault_admin_password }}"},
    }
    run = ansible("-v", "webstack.circus.manage", "-e", json.dumps(extra))
    assert run.returncode == 0, run.stdout[-6000:]
    assert vault["vault_admin_password"] not in run.stdout
    # Its file of values is gone.
    assert docker(WEB, "sh", "-c", "ls /tmp/ansible.*.json 2>/dev/null", check=False).stdout == ""
    status, headers, body = admin_login(tls_context(), username, vault["vault_admin_password"])
    assert (status, headers.get("Location")) == (302, "/admin/"), body[:800]
    users = docker(
        DB,
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-d",
        "mysite",
        "-tAc",
        "SELECT username FROM auth_user",
    ).stdout.split()
    assert username in users


def test_a_failing_command_shows_its_exit_code_and_errors_not_the_secrets(vault):
    run = ansible("-vvv", "webstack.circus.manage", "-e", "manage='nosuchcommand --x'")
    assert run.returncode != 0
    assert "Unknown command: 'nosuchcommand'" in run.stdout
    assert '"rc": 1' in run.stdout
    for name in ("vault_django_secret_key", "vault_db_password"):
        assert vault[name] not in run.stdout, name


def test_the_documented_command_line_passes_every_argument():
    """As docs/deploying.md writes it, through a shell: the quotes keep --tag and its value
    (without them Ansible runs a plain `check`, which passes)."""
    line = (
        f"ansible-playbook -i {INVENTORY} webstack.circus.manage -e \"manage='check --tag nosuch'\""
    )
    run = subprocess.run(
        ["bash", "-c", line],
        env=quick_start_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert "There is no system check with the" in run.stdout and "nosuch" in run.stdout


def test_no_command_named_is_refused_before_any_host_is_touched():
    run = ansible("webstack.circus.manage")
    assert run.returncode != 0
    assert "Name the management command" in run.stdout
    assert "Read the release the workers run" not in run.stdout


def test_a_private_git_repository_deploys_over_ssh_with_a_deploy_key():
    """The project from the db host's git server (prepare.yml), read over SSH with the
    deploy key the web host holds, its host key accepted on first use. Last: the site
    runs the commit from here on."""
    commit = subprocess.run(
        ["git", "-C", str(EPHEMERAL / "mysite.git"), "rev-parse", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    extra = {
        "django_app_source": "ssh://git@10.213.77.11/srv/git/mysite.git",
        "django_app_version": "main",
        "django_app_git_key_file": "/root/.ssh/mysite_deploy_key",
        "django_app_git_accept_newhostkey": True,
    }
    run = ansible("webstack.circus.deploy", "-e", json.dumps(extra))
    assert run.returncode == 0, run.stdout[-6000:]
    checked_out = docker(WEB, "git", "-C", "/srv/mysite/current/app", "rev-parse", "HEAD")
    assert checked_out.stdout.strip() == commit
    status, _headers, body = fetch(tls_context(), "GET", "/")
    assert status == 200, body[:800]
