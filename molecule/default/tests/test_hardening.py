"""What the roles close to other local users and keep out of logs: the control endpoint,
the app's environment and secrets, its code and its virtualenv."""

import hashlib
import json

import pytest
from helpers import circusctl, run_site

# Prints a process's environment as hex: values may hold any character but NUL.
READ_ENVIRON = "import sys; sys.stdout.write(open(sys.argv[1], 'rb').read().hex())"


def worker_environments(host):
    """The environment of each worker Circus runs for the demo, as a dict."""
    pids = json.loads(host.check_output(f"{circusctl(host)} --json list demo"))["pids"]
    assert pids
    environments = []
    for pid in pids:
        # Root in the container may not read another user's /proc/PID (no CAP_SYS_PTRACE).
        raw = host.check_output(
            "runuser -u demo -- python3 -c %s %s", READ_ENVIRON, f"/proc/{pid}/environ"
        )
        entries = bytes.fromhex(raw).split(b"\0")
        environments.append(dict(entry.decode().split("=", 1) for entry in entries if entry))
    return pids, environments


@pytest.fixture
def secret(host):
    return host.ansible.get_variables()["django_app_secret_env"]["DJANGO_SECRET_KEY"]


def test_control_endpoint_is_reachable_by_the_admin_group_only(host):
    host.run_expect(
        [0],
        "id circus-tester || useradd --system --no-create-home --groups circus-admin circus-tester",
    )
    member = host.run(f"runuser -u circus-tester -- {circusctl(host)} list")
    assert member.rc == 0, member.stdout + member.stderr
    assert "demo" in member.stdout
    outsider = host.run(f"runuser -u nobody -- {circusctl(host)} list")
    assert outsider.rc != 0
    assert "demo" not in outsider.stdout
    admin = host.run(f"{circusctl(host)} list")
    assert admin.rc == 0, admin.stdout + admin.stderr
    assert "demo" in admin.stdout


def test_environment_is_in_a_file_only_root_and_the_app_read(host, secret):
    env_file = host.file("/srv/demo/environment.json")
    assert (env_file.user, env_file.group, env_file.mode) == ("root", "demo", 0o640)
    assert json.loads(env_file.content_string)["DJANGO_SECRET_KEY"] == secret
    assert secret not in host.file("/etc/circus/conf.d/demo.ini").content_string
    assert secret not in host.check_output(f"{circusctl(host)} --json options demo")


def test_workers_get_the_secret_byte_for_byte(host, secret):
    environments = worker_environments(host)[1]
    assert [env["DJANGO_SECRET_KEY"] for env in environments] == [secret] * len(environments)


def test_code_is_closed_to_other_users(host):
    releases = host.file("/srv/demo/releases")
    assert (releases.user, releases.group, releases.mode) == ("root", "demo", 0o750)
    assert host.run("runuser -u nobody -- cat /srv/demo/current/app/manage.py").rc != 0
    assert host.run("runuser -u demo -- cat /srv/demo/current/app/manage.py").rc == 0


def test_virtualenv_was_built_by_the_app_user_and_belongs_to_root(host):
    venv = host.file("/srv/demo/current/venv").linked_to
    assert host.check_output(f"find {venv} ! -user root | head -n 1") == ""
    # pip ran as the app's user: the log it wrote for this virtualenv is the app's.
    log = host.file(f"/srv/demo/cache/pip-{venv.rsplit('/', 1)[1]}.log")
    assert log.exists
    assert log.user == "demo"
    assert "Successfully installed" in log.content_string


# Last: it changes the deployed secret.
def test_a_new_secret_moves_the_workers_and_never_shows_in_the_output(host, secret):
    pids = worker_environments(host)[0]
    rotated = secret.strip() + " rotated $$ ;x"
    extra = json.dumps({"django_app_secret_env": {"DJANGO_SECRET_KEY": rotated}})
    result = run_site(host, "-vvv", "-e", extra)
    assert result.returncode == 0, result.stdout[-6000:]
    # -vvv prints every task's arguments; the extra vars carry it on the controller only.
    output = result.stdout.replace(extra, "")
    assert rotated not in output
    assert "rotated" not in output
    # Nor a digest anyone could test guesses against: of the file that holds it, of the
    # secret values; neither in the output nor in the records.
    env_file = host.file("/srv/demo/environment.json")
    records = host.check_output("cat /var/lib/webstack/records/*.json")
    secrets = json.dumps({"DJANGO_SECRET_KEY": rotated}, sort_keys=True, separators=(",", ":"))
    for digest in [
        env_file.sha256sum,
        hashlib.sha1(env_file.content).hexdigest(),
        hashlib.sha256(secrets.encode()).hexdigest(),
    ]:
        assert digest not in output
        assert digest not in records
    new_pids, environments = worker_environments(host)
    assert not set(new_pids) & set(pids)
    assert [env["DJANGO_SECRET_KEY"] for env in environments] == [rotated] * len(environments)


# Everything a deploy writes, with modes, owners and times; not what the app writes.
TREE_SUM = (
    "tar --sort=name --exclude=/srv/demo/data --exclude=/srv/demo/ready "
    "-cf - /etc/circus /etc/nginx /etc/systemd/system /srv 2>/dev/null | sha256sum"
)
BAD_INPUTS = [
    ({"circus_endpoint": "tcp://0.0.0.0:5555"}, "circus_endpoint must be an ipc:// socket"),
    (
        {"django_app_socket_host": "127.0.0.1\n[watcher:evil]\ncmd = touch /tmp/pwned"},
        "django_app_socket_host must be an IPv4 or IPv6 address or a host name",
    ),
    ({"django_app_user": "root"}, "django_app_user must not be root"),
    ({"django_app_home": "/tmp"}, "django_app_home must be a directory under /srv"),
    ({"django_app_health_path": "@example.org/"}, "django_app_health_path must be empty or a path"),
    ({"django_app_numprocesses": 100000}, "django_app_numprocesses must be from 0 to 1024"),
    (
        {
            "nginx_proxy_sites": [
                {
                    "name": "demo",
                    "upstreams": ["127.0.0.1:8000"],
                    "server_names": ["evil; location /leak/ { alias /etc/; } #"],
                }
            ]
        },
        "server_names must be host names",
    ),
    ({"nginx_proxy_client_max_body_size": "10m; autoindex on"}, "nginx_proxy_client_max_body_size"),
    # Only a secret differs from the recorded run: the checks skipped for recorded values
    # run again (a secret is not in the fingerprint).
    (
        {"django_app_pip_index_url": "https://u:pw@index.example/simple\n[global]\ncert = /x"},
        "django_app_pip_index_url must be empty or an https:// URL",
    ),
]


@pytest.mark.parametrize(("variables", "message"), BAD_INPUTS, ids=lambda value: str(value)[:40])
def test_bad_input_is_refused_and_changes_nothing(host, variables, message):
    # The same checks run on every host (tests/integration/test_role_preflight.py runs the
    # whole matrix); one real host shows that a refused run changes nothing.
    if host.backend.get_hostname() != "webstack-bookworm":
        pytest.skip("checked on webstack-bookworm")
    before = host.check_output(TREE_SUM)
    pids = json.loads(host.check_output(f"{circusctl(host)} --json list demo"))["pids"]
    result = run_site(host, "-e", json.dumps(variables))
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-6000:]
    assert host.check_output(TREE_SUM) == before
    assert json.loads(host.check_output(f"{circusctl(host)} --json list demo"))["pids"] == pids
