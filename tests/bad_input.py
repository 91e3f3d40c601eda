"""Bad values given to the roles, and a part of the message each is refused with: the
unit tests check every case against the role's argument specs and rules
(tests/unit/plugins/plugin_utils/test_role_checks.py), the integration tests run a sample
through ansible-playbook, and scripts/bad-input-table.py lists them in docs/bad-input.md."""

import pathlib

from circus_paths import RUN_DIR

DEMO = pathlib.Path(__file__).parents[1] / "demo"

GOOD_APP = {
    "django_app_name": "shop",
    "django_app_source": str(DEMO),
    "django_app_wsgi_application": "mysite.wsgi.application",
    "django_app_settings_module": "mysite.settings",
}
GOOD_SITE = {"name": "shop", "upstreams": ["127.0.0.1:8000"]}
ENDPOINT_RULE = "must be an ipc:// socket in circus_run_dir"
# Shaped as a PEM certificate: preflight checks the shape, nginx the rest.
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
# Served /etc/passwd through the old site check.
INJECTION = "evil; location /leak/ { alias /etc/; } #"

CASES = [
    ("circus", {"circus_endpoint": "http://127.0.0.1:5555"}, ENDPOINT_RULE),
    ("circus", {"circus_endpoint": "tcp://0.0.0.0:5555"}, ENDPOINT_RULE),
    (
        "circus",
        {"circus_endpoint": "tcp://0.0.0.0:5555", "circus_allow_tcp_endpoints": True},
        "or tcp://127.0.0.1:PORT or tcp://[::1]:PORT",
    ),
    ("circus", {"circus_endpoint": f"ipc://{RUN_DIR}/c.sock\n"}, ENDPOINT_RULE),
    (
        "circus",
        {"circus_pubsub_endpoint": "ipc:///tmp/pubsub.sock"},
        "circus_pubsub_endpoint must be",
    ),
    (
        "circus",
        {"circus_endpoint": f"ipc://{RUN_DIR}/c.sock\n[watcher:x]\ncmd = touch /tmp/pwned"},
        ENDPOINT_RULE,
    ),
    ("circus", {"circus_run_dir": "/var/run/circus"}, "directly under /run"),
    (
        "circus",
        {"circus_pubsub_endpoint": f"ipc://{RUN_DIR}/circusd.sock"},
        "circus_pubsub_endpoint must differ from circus_endpoint",
    ),
    (
        "circus",
        {"circus_stats_endpoint": f"ipc://{RUN_DIR}/pubsub.sock"},
        "circus_stats_endpoint must differ from circus_endpoint and circus_pubsub_endpoint",
    ),
    ("circus", {"circus_admin_group": "adm\nx"}, "circus_admin_group must be a group name"),
    ("circus", {"circus_log_dir": "/var/log/../../etc"}, "circus_log_dir must be an absolute path"),
    ("circus", {"circus_extra_packages": ["--index-url=http://x"]}, "must be pip requirements"),
    ("circus", {"circus_check_delay": 0}, "circus_check_delay must be 1 to 3600"),
    (
        "circus",
        {"circus_pip_index_url": "https://u:s3cret@index.example/simple\n[global]\ncert = /x"},
        "circus_pip_index_url must be empty or an https:// URL",
    ),
    ("circus", {"circus_pip_index_url": "http://index.example/simple/"}, "an https:// URL"),
    ("circus", {"circus_pip_cert": "ca.pem"}, "circus_pip_cert must be empty, the absolute path"),
    (
        "circus",
        {"circus_pip_cert": CERTIFICATE + "[global]\nindex-url = https://evil.example/\n"},
        "circus_pip_cert must be empty, the absolute path",
    ),
    ("circus", {"circus_wheelhouse": "maybe"}, "argument 'circus_wheelhouse' is of type str"),
    ("circus", {"circus_loglevel": "chatty"}, "value of circus_loglevel must be one of"),
    ("circus", {"circus_check_delay": "soon"}, "argument 'circus_check_delay' is of type str"),
    # Issue 12: logs, flapping, statsd, the health observer.
    ("circus", {"circus_logrotate_maxsize": "1M\n}\n/etc/*"}, "circus_logrotate_maxsize must be"),
    ("circus", {"circus_flapping_attempts": 1}, "circus_flapping_attempts must be a whole number"),
    ("circus", {"circus_statsd_host": "x\n[watcher:y]"}, "circus_statsd_host must be empty, or an"),
    ("circus", {"circus_statsd_application": "a.b"}, "circus_statsd_application must be"),
    ("circus", {"circus_statsd_port": 0}, "circus_statsd_port must be a whole number from 1"),
    (
        "django_app",
        dict(GOOD_APP, django_app_health_observer=True),
        "django_app_health_observer needs django_app_health_path",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_health_observer_failures=0),
        "django_app_health_observer_failures must be from 1 to 100",
    ),
    # The status page (circus_status).
    ("circus", {"circus_status": True}, "circus_status needs a circus_admin_group other than root"),
    (
        "circus",
        {"circus_status_operators": ["ops\n--operator x"]},
        "circus_status_operators must be basic-auth user names",
    ),
    ("circus", {"circus_status_group": "www data"}, "circus_status_group must be a group name"),
    ("django_app", dict(GOOD_APP, django_app_name="My Shop"), "lower-case identifier"),
    (
        "django_app",
        dict(GOOD_APP, django_app_project_dir="../elsewhere"),
        "django_app_project_dir must be empty or a relative directory inside the source",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_project_dir="backend"),
        'django_app_project_dir "backend" is not a directory of the source',
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_deploy_commands=["manage.py clearsessions"]),
        "django_app_deploy_commands must be a list of commands, each a non-empty list",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_build_commands=[[]]),
        "django_app_build_commands must be a list of commands, each a non-empty list",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_config_files={"../etc/passwd": "x"}),
        "django_app_config_files must map paths inside the source",
    ),
    ("django_app", dict(GOOD_APP, django_app_name="shop\n"), "lower-case identifier"),
    (
        "django_app",
        dict(GOOD_APP, django_app_source="https://deploy:token@git.example/shop.git"),
        "django_app_source must not hold credentials",
    ),
    ("django_app", dict(GOOD_APP, django_app_source="/nonexistent/shop"), "read as a directory"),
    (
        "django_app",
        dict(GOOD_APP, django_app_source="file:///srv/git/shop.git"),
        "a git repository there is git+file:///srv/git/shop.git",
    ),
    ("django_app", dict(GOOD_APP, django_app_source="/nonexistent/shop.whl"), "read as a package"),
    ("django_app", dict(GOOD_APP, django_app_wsgi_application="shop"), "a dotted Python path"),
    (
        "django_app",
        dict(GOOD_APP, django_app_chaussette_backend="waitress"),
        "django_app_chaussette_backend must be wsgiref, the only backend proven",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_server="uwsgi"),
        "value of django_app_server must be one of",
    ),
    ("django_app", dict(GOOD_APP, django_app_server="uvicorn"), "django_app_asgi_application"),
    (
        "django_app",
        dict(GOOD_APP, django_app_numprocesses=-1),
        "numprocesses must be from 0 to 1024",
    ),
    ("django_app", dict(GOOD_APP, django_app_numprocesses=100000), "from 0 to 1024 (got 100000)"),
    ("django_app", dict(GOOD_APP, django_app_socket_port=70000), "port must be from 1 to 65535"),
    (
        "django_app",
        dict(GOOD_APP, django_app_socket_host="127.0.0.1\n[watcher:evil]\ncmd = touch /tmp/pwned"),
        "django_app_socket_host must be an IPv4 or IPv6 address or a host name",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_socket_host="0.0.0.0"),
        "list the proxies that may connect in django_app_socket_clients",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_socket_clients=["10.0.0.2 } accept; tcp dport 22 drop"]),
        "django_app_socket_clients must be IP addresses",
    ),
    ("django_app", dict(GOOD_APP, django_app_user="root"), "django_app_user must not be root"),
    (
        "django_app",
        dict(GOOD_APP, django_app_home="/tmp"),
        "django_app_home must be a directory under /srv",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_media_root="/etc"),
        "django_app_media_root must be a directory",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_health_path="@example.org/"),
        "django_app_health_path must be",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_version="--upload-pack=x"),
        "django_app_version must be a git",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_requirements_file="../x.txt"),
        "a relative path inside",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_extra_packages=["-e", "."]),
        "must be pip requirements",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_system_packages=["libpq5", "--allow-unauthenticated"]),
        "django_app_system_packages must be Debian package names",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_system_packages=["nginx=1.22.1-9"]),
        "django_app_system_packages must be Debian package names",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_circus_endpoint="tcp://0.0.0.0:5555"),
        "circus_endpoint must be",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_migrate="sometimes"),
        "value of django_app_migrate must be one of",
    ),
    ("django_app", dict(GOOD_APP, django_app_env={"BAD NAME": "x"}), "names given: BAD NAME"),
    (
        "django_app",
        dict(GOOD_APP, django_app_env={"DJANGO_SETTINGS_MODULE": "shop.prod"}),
        "must not set what the role sets: DJANGO_SETTINGS_MODULE, set by"
        " django_app_settings_module",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_secret_env={"HOME": "/root"}),
        "HOME, set by django_app_home",
    ),
    ("django_app", dict(GOOD_APP, django_app_secret_env={"KEY": "a\x00b"}), "cannot hold a NUL"),
    (
        "django_app",
        dict(GOOD_APP, django_app_pip_index_url="https://index.example/simple/ --trusted-host x"),
        "django_app_pip_index_url must be empty or an https:// URL",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_pip_cert="/etc/ssl/ca.pem\ncert = /x"),
        "django_app_pip_cert must be empty, the absolute path",
    ),
    (
        "django_app",
        dict(
            GOOD_APP, django_app_wheelhouse=True, django_app_source="https://git.example/shop.git"
        ),
        "django_app_wheelhouse needs the app's requirements on the controller",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_keep_releases=1),
        "keep_releases must be from 2 to 100",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_release="latest"),
        'hexadecimal digits (got "latest")',
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_git_key_file="/k -oProxyCommand=x"),
        "ssh's command line",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_git_key_file="/root/.ssh/../../etc/shadow"),
        "ssh's command line",
    ),
    (
        "django_app",
        dict(
            GOOD_APP, django_app_watchers=[{"name": "celery", "command": "celery -A x; rm -rf /"}]
        ),
        "never a shell string",
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_watchers=[{"name": "worker", "command": ["/bin/sh", "-c", "x"]}]),
        "django_app_watchers entry worker: command must be a list",
    ),
    (
        "django_app",
        dict(
            GOOD_APP,
            django_app_watchers=[
                {"name": "celery", "command": ["celery", "$(circus.sockets.shop)", "a b"]}
            ],
        ),
        'quotes or \'$\'; got ["$(circus.sockets.shop)", "a b"]',
    ),
    (
        "django_app",
        dict(GOOD_APP, django_app_watchers=[{"name": "Celery\n", "command": ["celery"]}]),
        "name must be a lower-case identifier",
    ),
    (
        "django_app",
        dict(
            GOOD_APP,
            django_app_watchers=[
                {"name": "celery", "command": ["celery"]},
                {"name": "celery", "command": ["manage.py", "rqworker"]},
            ],
        ),
        "django_app_watchers names must differ",
    ),
    (
        "django_app",
        dict(
            GOOD_APP, django_app_watchers=[{"name": "beat", "command": ["celery"], "reload": "hup"}]
        ),
        "django_app_watchers",
    ),
    (
        "django_app",
        dict(
            GOOD_APP,
            django_app_watchers=[{"name": "beat", "command": ["celery"], "numprocesses": -1}],
        ),
        "django_app_watchers",
    ),
    ("nginx_proxy", {"nginx_proxy_sites": [dict(GOOD_SITE, upstreams=["shop"])]}, "host:port"),
    ("nginx_proxy", {"nginx_proxy_sites": [{"name": "shop"}]}, "upstreams"),
    ("nginx_proxy", {"nginx_proxy_sites": [GOOD_SITE, GOOD_SITE]}, "must be unique"),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [GOOD_SITE, dict(GOOD_SITE, name="blog")]},
        "at most one site may leave server_names unset",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, server_names=[INJECTION])]},
        "server_names must be host names",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, server_names=["shop.example\n"])]},
        "server_names must be host names",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, server_names=[])]},
        "nginx_proxy_sites[shop].server_names must not be empty",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, name="shop\n")]},
        "lower-case identifier",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, upstreams=["127.0.0.1:8000; server evil:1"])]},
        "must be written host:port",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, upstreams=["127.0.0.1:8000\n"])]},
        "must be written host:port",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, upstreams=["127.0.0.1:70000"])]},
        "ports must be from 1 to 65535",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, static_root="/srv/x; autoindex on")]},
        "nginx_proxy_sites[shop].static_root must be an absolute path",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, media_root="/srv/shop/../../etc")]},
        "without '.' or '..' components",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_sites": [dict(GOOD_SITE, media_root="/srv/shop/media\n")]},
        "nginx_proxy_sites[shop].media_root must be an absolute path",
    ),
    ("nginx_proxy", {"nginx_proxy_listen_port": 0}, "nginx_proxy_listen_port must be a port"),
    (
        "nginx_proxy",
        {"nginx_proxy_client_max_body_size": "10m; autoindex on"},
        "nginx_proxy_client_max_body_size must be an nginx size",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_client_max_body_size": "10m\n"},
        "nginx_proxy_client_max_body_size must be an nginx size",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_media_expires": "1h; alias /etc/"},
        "nginx_proxy_media_expires must be an nginx time",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_static_expires": "30d\n"},
        "nginx_proxy_static_expires must be an nginx time",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_read_timeout": "60s; include /etc/passwd"},
        "nginx_proxy_read_timeout must be an nginx time",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_connect_timeout": "5s\n"},
        "nginx_proxy_connect_timeout must be an nginx time",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_media_inline_types": {"image/svg+xml": ["svg"]}},
        "must not hold HTML, SVG, XML or JavaScript types",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_media_inline_types": {"image/png": ["png; } location / {"]}},
        "nginx_proxy_media_inline_types[image/png] must be a non-empty list of file extensions",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_media_inline_types": {"image/png": []}},
        "nginx_proxy_media_inline_types[image/png] must be a non-empty list of file extensions",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_media_inline_types": {"image/png; x": ["png"]}},
        "nginx_proxy_media_inline_types keys must be MIME types",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_frame_options": 'DENY" always; add_header X "1'},
        "nginx_proxy_frame_options must be DENY, SAMEORIGIN or ''",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_frame_options": "DENY\n"},
        "nginx_proxy_frame_options must be DENY, SAMEORIGIN or ''",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_referrer_policy": "no-referrer; include /etc/passwd"},
        "nginx_proxy_referrer_policy must be one Referrer-Policy value",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_gzip_types": ["text/css; autoindex on"]},
        "nginx_proxy_gzip_types must be MIME types",
    ),
    ("nginx_proxy", {"nginx_proxy_tls_port": 80}, "must differ from nginx_proxy_listen_port"),
    ("nginx_proxy", {"nginx_proxy_tls_port": 70000}, "nginx_proxy_tls_port must be a port from 1"),
    ("nginx_proxy", {"nginx_proxy_tls": True}, "nginx_proxy_tls_self_signed: true"),
    (
        "nginx_proxy",
        {
            "nginx_proxy_tls": True,
            "nginx_proxy_tls_certificate": "not a certificate",
            "nginx_proxy_tls_certificate_key": "not a key",
        },
        "nginx_proxy_tls needs nginx_proxy_tls_certificate, PEM",
    ),
    (
        "nginx_proxy",
        {
            "nginx_proxy_tls": True,
            "nginx_proxy_tls_certificate": CERTIFICATE,
            "nginx_proxy_tls_certificate_key": "not a key",
        },
        "nginx_proxy_tls needs nginx_proxy_tls_certificate_key",
    ),
    # Certificates from an ACME CA (nginx_proxy_acme).
    (
        "nginx_proxy",
        {"nginx_proxy_acme": True, "nginx_proxy_acme_email": "ops@example.com"},
        "nginx_proxy_acme needs nginx_proxy_tls: true",
    ),
    (
        "nginx_proxy",
        {
            "nginx_proxy_tls": True,
            "nginx_proxy_acme": True,
            "nginx_proxy_acme_email": "ops@example.com",
            "nginx_proxy_remove_default_site": False,
        },
        "nginx_proxy_acme needs nginx_proxy_remove_default_site: true",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_tls": True, "nginx_proxy_acme": True, "nginx_proxy_acme_email": "ops"},
        "nginx_proxy_acme needs nginx_proxy_acme_email",
    ),
    (
        "nginx_proxy",
        {
            "nginx_proxy_tls": True,
            "nginx_proxy_acme": True,
            "nginx_proxy_acme_email": "ops@example.com",
            "nginx_proxy_acme_directory": "http://acme.example/directory",
        },
        "nginx_proxy_acme_directory must be the https:// URL",
    ),
    (
        "nginx_proxy",
        {
            "nginx_proxy_tls": True,
            "nginx_proxy_acme": True,
            "nginx_proxy_acme_email": "ops@example.com",
            "nginx_proxy_sites": [dict(GOOD_SITE, server_names=["shop.example", "*.shop.example"])],
        },
        "needs server_names, the host names its certificate is for",
    ),
    (
        "nginx_proxy",
        {
            "nginx_proxy_tls": True,
            "nginx_proxy_acme": True,
            "nginx_proxy_acme_email": "ops@example.com",
            "nginx_proxy_acme_ca_certificate": "/etc/ssl/ca.pem",
        },
        "nginx_proxy_acme_ca_certificate must be '' (the host's trusted CAs) or a PEM",
    ),
    # Maintenance (webstack.circus.maintenance).
    (
        "nginx_proxy",
        {"nginx_proxy_maintenance_allow": ["10.0.0.0/8", "10.0.0.1; return 200"]},
        "nginx_proxy_maintenance_allow must hold IPv4 or IPv6 addresses or networks",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_maintenance_paths": ["/healthz", 'x" 1; }']},
        "nginx_proxy_maintenance_paths must hold paths that start with '/'",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_maintenance_retry_after": 0},
        "nginx_proxy_maintenance_retry_after must be a number of seconds, 1 or more",
    ),
    # The status page (nginx_proxy_status).
    (
        "nginx_proxy",
        {"nginx_proxy_status": True, "nginx_proxy_status_listen": "0.0.0.0:8081"},
        "is not a loopback address: set nginx_proxy_status_users",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_status_listen": "127.0.0.1:8081; root /"},
        "nginx_proxy_status_listen must be ADDRESS:PORT",
    ),
    ("nginx_proxy", {"nginx_proxy_status_listen": "127.0.0.1:0"}, "a port from 1 to 65535"),
    (
        "nginx_proxy",
        {"nginx_proxy_status_users": [{"name": "ops admin", "password": "long-enough"}]},
        "nginx_proxy_status_users: each name must be",
    ),
    (
        "nginx_proxy",
        {"nginx_proxy_status_users": [{"name": "ops", "password": "short"}]},
        "each password must be at least 8 characters",
    ),
    (
        "nginx_proxy",
        {
            "nginx_proxy_status_users": [
                {"name": "ops", "password": "long-enough"},
                {"name": "ops", "password": "long-enough-too"},
            ]
        },
        "nginx_proxy_status_users names must be unique",
    ),
]

# What only a run finds: a required variable left undefined (Ansible's templating) and a
# user the host has already (a read of the host). The integration tests run these.
PLAYBOOK_CASES = [
    (
        "django_app",
        {k: v for k, v in GOOD_APP.items() if k != "django_app_name"},
        "'django_app_name' is undefined",
    ),
    ("django_app", dict(GOOD_APP, django_app_user="daemon"), "already exists on localhost"),
]
