# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rules each role of this collection checks its values against before it changes
anything (the role_checks action, on the controller), after the role's argument specs
checked their types and choices.

Every value checked here lands in a file or a command line on the host: circus.ini and
circusd's unit, the app's Circus files and environment, nginx's configuration. A newline
or a stray character there would add a section or a directive of its own (a [watcher:…]
that circusd runs as root, a location that serves /etc). Each message names the variable,
what it must be and what it got, but for values that may hold a password.

errors(role, values, context) gives every message, in the order of the rules. The values
are the role's variables as the task sees them (argument specs validate types without
converting them: a port may still be the string "8000").
"""

from __future__ import annotations

import ipaddress
import json
import os
import re

# Patterns end with \Z, not $: Python's $ also matches before a final newline.
# An absolute path whose components start with a letter, digit or _: no `..`, no space.
PATH = r"^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+\Z"
# A path inside an app's source: relative, no '..' (no component starts with a dot).
SOURCE_PATH = r"([A-Za-z0-9_][A-Za-z0-9._-]*/)*[A-Za-z0-9_][A-Za-z0-9._-]*"
RELATIVE_PATH = rf"^{SOURCE_PATH}\Z"
PATH_RULE = "an absolute path of letters, digits, '.', '_' and '-'"
# One label of a host name.
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
HOST = rf"([0-9.]+|[0-9A-Fa-f:]*:[0-9A-Fa-f:]*|{LABEL}(\.{LABEL})*)"
VERSION = r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?\Z"
USER = r"^[a-z_][a-z0-9_-]{0,31}\Z"
IDENTIFIER = r"^[a-z][a-z0-9_]{0,31}\Z"
DOTTED_PATH = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+"
# A pip requirement: a name, then version specifiers, no spaces, no option.
REQUIREMENT = r"^[A-Za-z0-9][A-Za-z0-9._\[\],<>=!~*+-]*\Z"
# pip's index: https:// with an optional user:password@ (percent-encoded), a host, a port
# and a path, nothing that would end the line of pip.conf it is written on.
_URL_CHARS = r"[A-Za-z0-9._~%!$&'()*+,;=-]"
_URL_HOST = r"([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?"
INDEX_URL = (
    rf"^(https://({_URL_CHARS}+(:{_URL_CHARS}*)?@)?{_URL_HOST}"
    r"(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?)?\Z"
)
# A CA bundle: a path on the host, or PEM certificates (nothing else between them).
_PEM = r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*"
PIP_CERT = rf"^((/[A-Za-z0-9_][A-Za-z0-9._-]*)+|({_PEM})+)?\Z"
PIP_CERT_RULE = (
    "empty, the absolute path of a CA bundle on the host, or PEM certificates"
    " (-----BEGIN CERTIFICATE-----)"
)
# A basic-auth user name (the status pages of both circus and nginx_proxy).
OPERATOR = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z"


def shown(value):
    """A value as a message shows it (Ansible's to_json)."""
    return json.dumps(value)


def matches(pattern, value):
    """Whether the value, as text, matches the pattern from its start (Jinja's match)."""
    return re.match(pattern, str(value)) is not None


def whole(value):
    """The value as a whole number, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if matches(r"^-?[0-9]+\Z", value) else None


def is_list(value):
    return isinstance(value, (list, tuple))


class Checks:
    """The messages of one role's values; each check adds its message when it fails."""

    def __init__(self, values):
        self.values = values
        self.errors = []

    def __getitem__(self, name):
        return self.values[name]

    def that(self, condition, message):
        if not condition:
            self.errors.append(message)
        return bool(condition)

    def patterns(self, rules):
        """(name, pattern, rule): the value, as text, matches the pattern."""
        for name, pattern, rule in rules:
            value = self.values[name]
            self.that(matches(pattern, value), f"{name} must be {rule} (got {shown(value)}).")

    def ranges(self, ranges, wording="a whole number from "):
        """(name, min, max): the value is a whole number in the range."""
        for name, low, high in ranges:
            value = whole(self.values[name])
            self.that(
                value is not None and low <= value <= high,
                f"{name} must be {wording}{low} to {high} (got {shown(self.values[name])}).",
            )

    def each(self, name, pattern, message):
        """Every item of a list, as text, matches the pattern."""
        bad = [item for item in self.values[name] if not matches(pattern, item)]
        self.that(not bad, message.format(got=shown(self.values[name]), bad=shown(bad)))


def pip_errors(check, role, example):
    """The packages a role installs beside its own, and the index pip takes them from."""
    check.each(
        f"{role}_extra_packages",
        REQUIREMENT,
        f"{role}_extra_packages must be pip requirements such as {example} or pkg>=2 (a name,"
        " then version specifiers, no spaces, no option; got {got}).",
    )
    # The value is not shown: it may hold a password.
    index_url = check[f"{role}_pip_index_url"]
    check.that(
        isinstance(index_url, str) and matches(INDEX_URL, index_url),
        f"{role}_pip_index_url must be empty or an https:// URL (https://[user:password@]host"
        "[:port]/path, letters, digits and URL punctuation, no space or newline; the value is"
        " not shown, it may hold a password).",
    )


def circus_errors(values, _context):
    check = Checks(values)
    run_dir = values["circus_run_dir"]
    endpoint = rf"ipc://{re.escape(str(run_dir))}/[A-Za-z0-9_][A-Za-z0-9._-]*"
    endpoint_rule = f"an ipc:// socket in circus_run_dir ({run_dir})"
    if values["circus_allow_tcp_endpoints"]:
        endpoint += r"|tcp://(127\.0\.0\.1|\[::1\]):[0-9]{1,5}"
        endpoint_rule += ", or tcp://127.0.0.1:PORT or tcp://[::1]:PORT"
    else:
        endpoint_rule += " (set circus_allow_tcp_endpoints: true to use a loopback TCP port)"
    group = "a group name (lower-case letters, digits, '_' and '-')"
    check.patterns(
        [
            ("circus_version", VERSION, "a release number such as 0.19.0"),
            ("circus_venv", PATH, PATH_RULE),
            ("circus_conf_dir", PATH, PATH_RULE),
            ("circus_include_dir", PATH, PATH_RULE),
            ("circus_log_dir", PATH, PATH_RULE),
            (
                "circus_run_dir",
                r"^/run/[A-Za-z0-9_][A-Za-z0-9._-]*\Z",
                "a directory directly under /run (systemd's RuntimeDirectory)",
            ),
            ("circus_admin_group", USER, group),
            ("circus_endpoint", rf"^({endpoint})\Z", endpoint_rule),
            ("circus_pubsub_endpoint", rf"^({endpoint})\Z", endpoint_rule),
            ("circus_pip_cert", PIP_CERT, PIP_CERT_RULE),
            ("circus_stats_endpoint", rf"^\Z|^({endpoint})\Z", f"empty, or {endpoint_rule}"),
            (
                "circus_logrotate_maxsize",
                r"^([1-9][0-9]{0,8}[kMG]?)?\Z",
                "empty, or a size such as 100M (digits, then k, M or G)",
            ),
            ("circus_statsd_host", rf"^{HOST}?\Z", "empty, or an IP address or a host name"),
            (
                "circus_statsd_application",
                r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\Z",
                "a metric name part of letters, digits, '_' and '-' (no '.')",
            ),
            ("circus_status_group", USER, group),
        ]
    )
    # Numbers that land in circus.ini and the logrotate file.
    check.ranges(
        [
            ("circus_logrotate_rotate", 1, 1000),
            ("circus_flapping_attempts", 2, 100),
            ("circus_flapping_window", 0, 3600),
            ("circus_flapping_retry_in", 1, 3600),
            ("circus_flapping_max_retry", -1, 1000),
            ("circus_statsd_port", 1, 65535),
        ]
    )
    check.ranges([("circus_check_delay", 1, 3600)], "")
    pip_errors(check, "circus", "circus-web==1.0")
    check.that(
        values["circus_pubsub_endpoint"] != values["circus_endpoint"],
        "circus_pubsub_endpoint must differ from circus_endpoint"
        f" (got {shown(values['circus_endpoint'])} for both).",
    )
    check.that(
        values["circus_stats_endpoint"]
        not in (values["circus_endpoint"], values["circus_pubsub_endpoint"]),
        "circus_stats_endpoint must differ from circus_endpoint and circus_pubsub_endpoint"
        f" (got {shown(values['circus_stats_endpoint'])}).",
    )
    check.that(
        not values["circus_status"] or values["circus_admin_group"] != "root",
        "circus_status needs a circus_admin_group other than root (got root): the page's"
        " service joins that group to reach the control endpoint.",
    )
    check.each(
        "circus_status_operators",
        OPERATOR,
        "circus_status_operators must be basic-auth user names (a letter or digit, then up to"
        " 31 letters, digits, '_', '.' and '-'; got {got}).",
    )
    return check.errors


def source_kind(source):
    """How the django_app role reads django_app_source: a git URL, a package file or a
    directory on the controller."""
    if re.match(r"^(git\+|git@|https?://.*\.git$|ssh://)", source):
        return "git"
    if re.match(r".*(\.whl|\.tar\.gz|\.zip)$", source):
        return "package"
    return "directory"


# A URL with credentials: any user:password@, and any user@ of an http(s) URL (a token).
# ssh://git@host/ and git@host:path name a user, not a secret.
SOURCE_CREDENTIALS = r"^(git\+)?([A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@|https?://[^/@]*@)"
# Directories the role creates and gives to the app's user live under /srv, /opt, /home,
# /var/lib or /var/www, never at a system path (/tmp, /etc).
APP_DIR = r"^/(srv|opt|home|var/lib|var/www)(/[A-Za-z0-9_][A-Za-z0-9._-]*)+\Z"
APP_DIR_RULE = (
    "a directory under /srv, /opt, /home, /var/lib or /var/www (letters, digits, '.', '_', '-')"
)
DJANGO_PATH_RULE = (
    "an absolute path of letters, digits, '.', '_' and '-' (no component starts with '.')"
)
# Chaussette backends proven to serve on the file descriptor that Circus hands them.
CHAUSSETTE_BACKENDS = ("wsgiref",)
# The environment the django_app role sets itself, and what sets each instead.
ROLE_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "django_app_settings_module",
    "DJANGO_STATIC_ROOT": "STATIC_ROOT in the app's settings (the role collects where they say)",
    "DJANGO_MEDIA_ROOT": "django_app_media_root",
    "HOME": "django_app_home",
    "WEBSTACK_READY_DIR": "nothing: the role's workers announce themselves there",
    "WEBSTACK_ASGI_APP": "django_app_asgi_application",
    "WEBSTACK_ACCESS_LOG": "django_app_access_log",
}
WATCHER_KEYS = ("name", "command", "numprocesses", "graceful_timeout", "warmup_delay", "reload")
WATCHER_DEFAULTS = {"numprocesses": 1, "graceful_timeout": 30, "warmup_delay": 0}
# The program a watcher runs, in the release's virtualenv: manage.py is Django's command.
WATCHER_PROGRAM = r"^(manage\.py|[A-Za-z0-9][A-Za-z0-9._-]*)\Z"
# No space, quote, '$' (Circus expands $(...)), ';' or '#' (comments in its ini file).
WATCHER_ARGUMENT = r"^[A-Za-z0-9_@+=:,./-]+\Z"
LOOPBACK = r"^(127\.[0-9.]+|::1|localhost)\Z"


def django_app_errors(values, context):
    """context: hostname, and others, the apps of this run checked on the host before
    (each a mapping of name, port, user and home)."""
    check = Checks(values)
    name = values["django_app_name"]
    source = str(values["django_app_source"])
    # First: a password or token in the URL would be on the host's command lines (git
    # ls-remote, git clone), in Ansible's output and in the release's .git/config. No
    # other message, which might show the source, comes with this one.
    if not check.that(
        not re.match(SOURCE_CREDENTIALS, source),
        "django_app_source must not hold credentials (a user:password@, or any user@ in an"
        " http(s) URL, where it is a token): git would put them on the host's command lines,"
        " in the output and in the release's .git/config. Use an SSH URL and a deploy key on"
        " the host (django_app_git_key_file). The value is not shown.",
    ):
        return check.errors
    version = "a release number such as"
    check.patterns(
        [
            ("django_app_name", IDENTIFIER, "a lower-case identifier of at most 32 characters"),
            (
                "django_app_user",
                USER,
                "a user name (lower-case letters, digits, '_' and '-', at most 32)",
            ),
            ("django_app_home", APP_DIR, APP_DIR_RULE),
            ("django_app_static_root", APP_DIR, APP_DIR_RULE),
            ("django_app_media_root", APP_DIR, APP_DIR_RULE),
            ("django_app_source", r"^[^\s]+\Z", "a path or URL without spaces or newlines"),
            (
                "django_app_version",
                r"^[A-Za-z0-9_][A-Za-z0-9._/-]*\Z",
                "a git branch, tag or commit (letters, digits, '.', '_', '-', '/'; not starting"
                " with '-')",
            ),
            (
                "django_app_git_key_file",
                # ~/.ssh/KEY: a component may start with a dot, but not be . or ..
                r"^((/(?!\.\.?(/|\Z))[A-Za-z0-9._-]+)+)?\Z",
                "empty or an absolute path of letters, digits, '.', '_', '-' and '/' (it goes"
                " into ssh's command line)",
            ),
            (
                "django_app_release",
                r"^([0-9a-f]{16})?\Z",
                "empty or a release id of 16 hexadecimal digits",
            ),
            ("django_app_pip_cert", PIP_CERT, PIP_CERT_RULE),
            (
                "django_app_requirements_file",
                rf"^({SOURCE_PATH})?\Z",
                "empty or a relative path inside the source (no '..', no leading '/')",
            ),
            (
                "django_app_project_dir",
                rf"^({SOURCE_PATH})?\Z",
                "empty or a relative directory inside the source (no '..', no leading or"
                " trailing '/')",
            ),
            (
                "django_app_wsgi_application",
                rf"^{DOTTED_PATH}\Z",
                "a dotted Python path such as mysite.wsgi.application",
            ),
            (
                "django_app_settings_module",
                r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z",
                "a dotted Python module path such as mysite.settings",
            ),
            (
                "django_app_asgi_application",
                rf"^(|{DOTTED_PATH})\Z",
                "empty or a dotted Python path such as mysite.asgi.application",
            ),
            ("django_app_chaussette_version", VERSION, f"{version} 1.3.0"),
            ("django_app_gunicorn_version", VERSION, f"{version} 23.0.0"),
            ("django_app_uvicorn_version", VERSION, f"{version} 0.34.0"),
            ("django_app_socket_host", rf"^{HOST}\Z", "an IPv4 or IPv6 address or a host name"),
            (
                "django_app_health_path",
                r"^(/[A-Za-z0-9._~/%?=&+-]*)?\Z",
                "empty or a path on the app's socket starting with '/' (letters, digits and"
                " ._~/%?=&+-)",
            ),
            ("django_app_circus_include_dir", PATH, DJANGO_PATH_RULE),
            ("django_app_circus_log_dir", PATH, DJANGO_PATH_RULE),
            ("django_app_circusctl_path", PATH, DJANGO_PATH_RULE),
            (
                "django_app_circus_endpoint",
                r"^(ipc:///[A-Za-z0-9_/.-]+|tcp://(127\.0\.0\.1|\[::1\]):[0-9]{1,5})\Z",
                "an ipc:// socket path, or tcp://127.0.0.1:PORT or tcp://[::1]:PORT (as the"
                " circus role allows)",
            ),
        ]
    )
    check.ranges(
        [
            ("django_app_numprocesses", 0, 1024),
            ("django_app_socket_port", 1, 65535),
            ("django_app_socket_backlog", 1, 65535),
            ("django_app_graceful_timeout", 0, 3600),
            ("django_app_warmup_delay", 0, 3600),
            ("django_app_ready_timeout", 1, 3600),
            ("django_app_health_retries", 1, 3600),
            ("django_app_circus_timeout", 1, 3600),
            ("django_app_keep_releases", 2, 100),
            ("django_app_health_observer_interval", 1, 86400),
            ("django_app_health_observer_timeout", 1, 3600),
            ("django_app_health_observer_failures", 1, 100),
        ],
        "from ",
    )
    check.that(
        not values["django_app_health_observer"] or values["django_app_health_path"],
        "django_app_health_observer needs django_app_health_path, the path it checks on the"
        f" app's socket (got {shown(values['django_app_health_path'])}).",
    )
    check.that(
        values["django_app_user"] != "root",
        "django_app_user must not be root: the role makes it a system user with no shell, and"
        " the app runs as it.",
    )
    kind = source_kind(source)
    # Relative to where ansible-playbook runs, as the role reads it.
    check.that(
        kind != "directory" or os.path.isdir(source),
        "django_app_source must be a directory on the controller, a wheel/sdist file or a git"
        f" URL (got '{source}', read as a directory, which does not exist"
        + (f"; a git repository there is git+{source}" if source.startswith("file://") else "")
        + ").",
    )
    project = str(values["django_app_project_dir"])
    check.that(
        kind != "directory"
        or not os.path.isdir(source)
        or not project
        or os.path.isdir(os.path.join(source, project)),
        f"django_app_project_dir {shown(project)} is not a directory of the source {source}:"
        " it names where manage.py is, from the source's root.",
    )
    check.that(
        kind != "package" or os.path.isfile(source),
        "django_app_source, a wheel or sdist, must be a file on the controller"
        f" (got '{source}', read as a package, which is not a file).",
    )
    check.that(
        values["django_app_server"] != "chaussette"
        or values["django_app_chaussette_backend"] in CHAUSSETTE_BACKENDS,
        f"django_app_chaussette_backend must be {' or '.join(CHAUSSETTE_BACKENDS)}, the only"
        " backend proven to serve on the Circus file descriptor (got"
        f" {shown(values['django_app_chaussette_backend'])}). Chaussette 1.3's other backends"
        " are broken on Python 3 (gevent is refused by its own CLI, waitress fails in fd mode"
        ' with "Invalid host/port specified", meinheld\'s pinned greenlet does not build).'
        " django_app_server: gunicorn is the other server offered.",
    )
    check.that(
        values["django_app_server"] != "uvicorn"
        or matches(rf"^{DOTTED_PATH}\Z", values["django_app_asgi_application"]),
        "django_app_server: uvicorn serves an ASGI app; set django_app_asgi_application to its"
        " dotted path, for example mysite.asgi.application"
        f" (got '{values['django_app_asgi_application']}').",
    )
    environment = dict(values["django_app_env"], **values["django_app_secret_env"])
    check.that(
        all(matches(r"^[A-Za-z_][A-Za-z0-9_]*\Z", key) for key in environment),
        "django_app_env and django_app_secret_env names must be identifiers (letters, digits,"
        f" '_'; names given: {', '.join(map(str, environment))}).",
    )
    owned = [name for name in ROLE_ENVIRONMENT if name in environment]
    check.that(
        not owned,
        "django_app_env and django_app_secret_env must not set what the role sets: "
        + "; ".join(f"{name}, set by {ROLE_ENVIRONMENT[name]}" for name in owned)
        + ".",
    )
    # Any other character reaches the app intact (webstack_run.py passes the JSON file's
    # values); a NUL byte cannot be in a process's environment.
    with_nul = [str(key) for key, value in environment.items() if "\x00" in str(value)]
    check.that(
        not with_nul,
        "django_app_env and django_app_secret_env values cannot hold a NUL character"
        f" (in {', '.join(with_nul)}).",
    )
    check.that(
        not any(re.search(r"[\n\r]", str(item)) for item in values["django_app_source_exclude"]),
        "django_app_source_exclude patterns must be single lines"
        f" (got {shown(values['django_app_source_exclude'])}).",
    )
    pip_errors(check, "django_app", "whitenoise==6.9")
    # A Debian package name (Debian policy 5.6.1), nothing apt reads as an option or a version.
    check.each(
        "django_app_system_packages",
        r"^[a-z0-9][a-z0-9+.-]+\Z",
        "django_app_system_packages must be Debian package names such as libpq5 (lower-case"
        " letters, digits, '+', '-' and '.'; no version, no option; got {got}).",
    )
    for variable in ("django_app_build_commands", "django_app_deploy_commands"):
        check.that(
            all(
                isinstance(command, list)
                and command
                and all(isinstance(arg, (str, int, float)) for arg in command)
                and not any(re.search(r"[\x00\n\r]", str(arg)) for arg in command)
                for command in values[variable]
            ),
            f"{variable} must be a list of commands, each a non-empty list of single-line"
            " arguments such as [python, manage.py, remove_stale_contenttypes, --noinput]"
            f" (got {shown(values[variable])}).",
        )
    config_files = values["django_app_config_files"]
    check.that(
        all(
            matches(RELATIVE_PATH, name) and isinstance(content, str)
            for name, content in config_files.items()
        ),
        "django_app_config_files must map paths inside the source (relative, no '..') to"
        f" their content as text (paths given: {shown(list(map(str, config_files)))}).",
    )
    check.that(
        not config_files or kind != "package",
        "django_app_config_files go into a source directory or a git repository's tree; a"
        f" package ({source}) is installed into the virtualenv.",
    )
    check.that(
        not values["django_app_build_commands"] or kind != "package",
        "django_app_build_commands build a source directory or a git repository; a package"
        f" ({source}) is installed as it was built.",
    )
    check.that(
        not values["django_app_project_dir"] or kind != "package",
        "django_app_project_dir is for a source directory or a git repository; a package"
        f" ({source}) is installed into the virtualenv, it has no project directory.",
    )
    # The controller builds the wheels from what it has: not a git checkout's requirements,
    # and not an sdist, which the host would have to build (with setuptools, from an index).
    check.that(
        not values["django_app_wheelhouse"] or kind == "directory" or source.endswith(".whl"),
        "django_app_wheelhouse needs the app's requirements on the controller: a source"
        " directory or a wheel (.whl), not"
        f" {'a git URL' if kind == 'git' else 'an sdist'} ({source}). Build a wheel of the"
        " app, or list its packages in django_app_extra_packages with"
        ' django_app_requirements_file set to "".',
    )
    # An IPv4 or IPv6 address with an optional prefix length, or a host name.
    check.each(
        "django_app_socket_clients",
        rf"^([0-9.]+(/[0-9]{{1,2}})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(/[0-9]{{1,3}})?"
        rf"|{LABEL}(\.{LABEL})*)\Z",
        "django_app_socket_clients must be IP addresses (with an optional /prefix) or host"
        " names (got {got}).",
    )
    socket_host = values["django_app_socket_host"]
    check.that(
        not values["django_app_firewall"]
        or matches(LOOPBACK, socket_host)
        or values["django_app_socket_clients"],
        f"django_app_socket_host {socket_host} opens the app's socket to other hosts: list the"
        " proxies that may connect in django_app_socket_clients (nftables then lets only them"
        " and this host in), or set django_app_firewall to false to filter it yourself.",
    )
    watcher_errors(check, name)
    hostname = context.get("hostname", "")
    others = [other for other in context.get("others", []) if other["name"] != name]
    port = whole(values["django_app_socket_port"])
    for key, variable, value, what in (
        ("port", "django_app_socket_port", port, "port"),
        ("user", "django_app_user", values["django_app_user"], "user"),
        ("home", "django_app_home", values["django_app_home"], "home"),
    ):
        taken = [other["name"] for other in others if other[key] == value]
        check.that(
            not taken,
            f"{variable} {values[variable]} of app {name} is the {what} of app"
            f" {', '.join(taken)} on {hostname}: give each app its own {what}.",
        )
    return check.errors


def watcher_errors(check, app):
    """django_app_watchers: each entry lands in a Circus file (a [watcher:…] circusd runs)
    and its command line."""
    watchers = check["django_app_watchers"]
    listed = is_list(watchers) and all(
        isinstance(entry, dict) and "name" in entry for entry in watchers
    )
    if not check.that(
        listed and all(set(entry) <= set(WATCHER_KEYS) for entry in watchers),
        "django_app_watchers must be a list of mappings, each with a name and a command and"
        f" only the keys {', '.join(WATCHER_KEYS)} (got {shown(watchers)}).",
    ):
        return
    names = [entry["name"] for entry in watchers]
    check.that(
        len(set(map(str, names))) == len(names),
        f"django_app_watchers names must differ (got {shown(names)}).",
    )
    for entry in watchers:
        entry = dict(WATCHER_DEFAULTS, **entry)
        name = entry["name"]
        label = f"django_app_watchers entry {name}:"
        check.that(
            matches(IDENTIFIER, name),
            f"django_app_watchers entry {shown(name)}: name must be a lower-case identifier of"
            f" at most 32 characters (the watcher is named {app}-NAME).",
        )
        command = entry.get("command")
        if not check.that(
            is_list(command) and command and matches(WATCHER_PROGRAM, command[0]),
            f"{label} command must be a list, its first item manage.py or the name of a program"
            " in the app's virtualenv (letters, digits, '.', '_', '-'), never a shell string"
            f" (got {shown(command)}).",
        ):
            continue
        bad = [argument for argument in command[1:] if not matches(WATCHER_ARGUMENT, argument)]
        check.that(
            not bad,
            f"{label} each argument of command must be letters, digits and _@+=:,./- (no spaces,"
            f" quotes or '$'; got {shown(bad)}).",
        )
        numbers = [whole(entry[key]) for key in WATCHER_DEFAULTS]
        check.that(
            None not in numbers
            and 0 <= numbers[0] <= 1024
            and 0 <= numbers[1] <= 3600
            and 0 <= numbers[2] <= 3600,
            f"{label} numprocesses must be from 0 to 1024, graceful_timeout and warmup_delay"
            f" from 0 to 3600 (got {shown(entry['numprocesses'])},"
            f" {shown(entry['graceful_timeout'])}, {shown(entry['warmup_delay'])}).",
        )


# nginx's values. A DNS label; upstream hosts may also be container names, which allow '_'.
NGINX_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
UPSTREAM_LABEL = r"[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
# host:port, IPv4:port or [IPv6]:port; the port's range is its own rule.
UPSTREAM = rf"^({UPSTREAM_LABEL}(\.{UPSTREAM_LABEL})*|\[[0-9A-Fa-f:.]+\]):[0-9]{{1,5}}\Z"
# A host name, a wildcard (*.example.com), a domain and its subdomains (.example.com), or _.
SERVER_NAME = rf"^(_|(\*\.|\.)?{NGINX_LABEL}(\.{NGINX_LABEL})*)\Z"
# A path nginx compares a request's with (a map key): no quote, space or variable.
URL_PATH = r"^/[A-Za-z0-9._~%/@+:=,-]*\Z"
# A name a certificate from an ACME CA over HTTP-01 can be for: no '_', no wildcard.
ACME_NAME = rf"^{NGINX_LABEL}(\.{NGINX_LABEL})*\Z"
# An absolute path of letters, digits and . _ @ + -, without a trailing /, and no
# component . or ..
SITE_PATH = r"^(/[A-Za-z0-9._@+-]+)+\Z"
DOT_COMPONENT = r"(^|/)\.\.?(/|\Z)"
# nginx times: 30, 500ms, 5s, 1h30m (units ms s m h d w M y).
NGINX_TIME = r"([0-9]+(ms|[smhdwMy]))*[0-9]+(ms|[smhdwMy])?"
MIME_TYPE = r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*\Z"
# Types a browser runs as a page or a script: never sent inline from /media/.
ACTIVE_TYPE = r"(html|svg|xml|javascript|ecmascript)"
REFERRER_POLICIES = (
    "no-referrer|no-referrer-when-downgrade|origin|origin-when-cross-origin|same-origin"
    "|strict-origin|strict-origin-when-cross-origin|unsafe-url"
)
STATUS_LISTEN = r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}\Z"


def port_errors(check, name):
    value = check[name]
    port = whole(value) if matches(r"^[0-9]{1,5}\Z", value) else None
    check.that(
        port is not None and 1 <= port <= 65535,
        f"{name} must be a port from 1 to 65535 (got {shown(str(value))}).",
    )


def default_sites(sites):
    """The sites that answer any Host (no server_names, or ['_'])."""
    return [site["name"] for site in sites if site.get("server_names", ["_"]) == ["_"]]


def nginx_proxy_errors(values, _context):
    check = Checks(values)
    sites = values["nginx_proxy_sites"]
    names = [site.get("name") for site in sites]
    for site in sites:
        check.that(
            matches(IDENTIFIER, site.get("name")),
            "nginx_proxy_sites: name must be a lower-case identifier of at most 32 characters"
            f" (got {shown(str(site.get('name')))}).",
        )
    check.that(
        len(set(map(str, names))) == len(names),
        f"nginx_proxy_sites names must be unique (got {', '.join(map(str, names))}).",
    )
    for site in sites:
        where = f"nginx_proxy_sites[{site.get('name')}]"
        upstreams = site.get("upstreams") or []
        check.that(
            upstreams,
            f"{where}.upstreams must list at least one app socket, host:port"
            f" (got {shown(upstreams)}).",
        )
        bad = [str(item) for item in upstreams if not matches(UPSTREAM, item)]
        check.that(
            not bad,
            f"{where}.upstreams must be written host:port, IPv4:port or [IPv6]:port, the host"
            f" made of DNS labels (got {shown(bad)}).",
        )
        ports = [whole(str(item).rsplit(":", 1)[-1]) for item in upstreams]
        bad = [port for port in ports if port is not None and not 1 <= port <= 65535]
        check.that(not bad, f"{where}.upstreams: ports must be from 1 to 65535 (got {shown(bad)}).")
        server_names = site.get("server_names", ["_"])
        check.that(
            server_names,
            f"{where}.server_names must not be empty: list its host names, or leave it unset for"
            f" the default server (got {shown(server_names)}).",
        )
        bad = [str(item) for item in server_names if not matches(SERVER_NAME, item)]
        check.that(
            not bad,
            f"{where}.server_names must be host names (DNS labels), each optionally starting"
            f" with '*.' or '.', or '_' (got {shown(bad)}).",
        )
        for key in ("static_root", "media_root"):
            root = str(site.get(key) or "")
            check.that(
                (root == "" or matches(SITE_PATH, root)) and not re.search(DOT_COMPONENT, root),
                f"{where}.{key} must be an absolute path of letters, digits and . _ @ + -,"
                f" without '.' or '..' components or a trailing '/' (got {shown(root)}).",
            )
    default = default_sites(sites)
    check.that(
        len(default) <= 1,
        "nginx_proxy_sites: at most one site may leave server_names unset (or ['_']), since it"
        f" becomes the default server of port {values['nginx_proxy_listen_port']}"
        f" (got {', '.join(default)}); give the others their server_names.",
    )
    port_errors(check, "nginx_proxy_listen_port")
    size = values["nginx_proxy_client_max_body_size"]
    check.that(
        matches(r"^[0-9]+[kKmM]?\Z", size),
        "nginx_proxy_client_max_body_size must be an nginx size, digits with an optional k or m"
        f" (got {shown(str(size))}).",
    )
    for name in ("nginx_proxy_static_expires", "nginx_proxy_media_expires"):
        check.that(
            matches(rf"^(off|epoch|max|-?{NGINX_TIME})\Z", values[name]),
            f"{name} must be an nginx time such as 30d or 1h30m, optionally negative, or off,"
            f" epoch or max (got {shown(str(values[name]))}).",
        )
    for name in ("connect", "read", "send"):
        name = f"nginx_proxy_{name}_timeout"
        check.that(
            matches(rf"^{NGINX_TIME}\Z", values[name]),
            f"{name} must be an nginx time such as 5s, 500ms or 1m30s"
            f" (got {shown(str(values[name]))}).",
        )
    media_types = values["nginx_proxy_media_inline_types"]
    for key, extensions in media_types.items():
        check.that(
            matches(MIME_TYPE, key),
            "nginx_proxy_media_inline_types keys must be MIME types, type/subtype in lower case"
            f" (got {shown(str(key))}).",
        )
        check.that(
            is_list(extensions)
            and extensions
            and all(matches(r"^[A-Za-z0-9]+\Z", item) for item in extensions),
            f"nginx_proxy_media_inline_types[{key}] must be a non-empty list of file extensions,"
            f" letters and digits (got {shown(extensions)}).",
        )
    bad = [str(key) for key in media_types if re.search(ACTIVE_TYPE, str(key))]
    check.that(
        not bad,
        "nginx_proxy_media_inline_types must not hold HTML, SVG, XML or JavaScript types: a"
        f" user's upload would run as a page of the site (got {shown(bad)}).",
    )
    frame_options = values["nginx_proxy_frame_options"]
    check.that(
        matches(r"^(DENY|SAMEORIGIN)?\Z", frame_options),
        "nginx_proxy_frame_options must be DENY, SAMEORIGIN or '' (the app decides)"
        f" (got {shown(str(frame_options))}).",
    )
    policy = values["nginx_proxy_referrer_policy"]
    check.that(
        matches(rf"^({REFERRER_POLICIES})?\Z", policy),
        "nginx_proxy_referrer_policy must be one Referrer-Policy value such as"
        " strict-origin-when-cross-origin, or '' (the app decides)"
        f" (got {shown(str(policy))}).",
    )
    bad = [str(item) for item in values["nginx_proxy_gzip_types"] if not matches(MIME_TYPE, item)]
    check.that(
        not bad,
        "nginx_proxy_gzip_types must be MIME types, type/subtype in lower case"
        f" (got {shown(bad)}).",
    )
    port_errors(check, "nginx_proxy_tls_port")
    check.that(
        whole(values["nginx_proxy_tls_port"]) != whole(values["nginx_proxy_listen_port"]),
        "nginx_proxy_tls_port must differ from nginx_proxy_listen_port"
        f" (got {shown(str(values['nginx_proxy_tls_port']))} for both).",
    )
    check.that(
        matches(r"^[0-9]+\Z", values["nginx_proxy_hsts_max_age"]),
        "nginx_proxy_hsts_max_age must be a number of seconds, 0 or more"
        f" (got {shown(str(values['nginx_proxy_hsts_max_age']))}).",
    )
    acme_errors(check, sites)
    tls = (
        values["nginx_proxy_tls"]
        and not values["nginx_proxy_tls_self_signed"]
        and not values["nginx_proxy_acme"]
    )
    certificate = str(values["nginx_proxy_tls_certificate"])
    check.that(
        not tls or "-----BEGIN CERTIFICATE-----" in certificate,
        "nginx_proxy_tls needs nginx_proxy_tls_certificate, PEM with its chain included, or"
        " nginx_proxy_tls_self_signed: true for a staging host (got"
        f" {shown(truncated(certificate, 40))}, no -----BEGIN CERTIFICATE----- line).",
    )
    key = str(values["nginx_proxy_tls_certificate_key"])
    check.that(
        not tls or re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", key),
        "nginx_proxy_tls needs nginx_proxy_tls_certificate_key, a PEM private key from a vault,"
        f" or nginx_proxy_tls_self_signed: true for a staging host (got {len(key)} characters"
        " without a -----BEGIN ... PRIVATE KEY----- line; the value is secret and not shown).",
    )
    maintenance_errors(check)
    status_errors(check)
    return check.errors


def maintenance_errors(check):
    bad = [str(item) for item in check["nginx_proxy_maintenance_allow"] if not is_network(item)]
    check.that(
        not bad,
        "nginx_proxy_maintenance_allow must hold IPv4 or IPv6 addresses or networks, such as"
        f" 192.0.2.10 or 10.0.0.0/8 (got {shown(bad)}).",
    )
    paths = check["nginx_proxy_maintenance_paths"]
    bad = [str(item) for item in paths if not matches(URL_PATH, item)]
    check.that(
        not bad,
        "nginx_proxy_maintenance_paths must hold paths that start with '/', of letters,"
        f" digits and . _ ~ % / @ + : = , - (got {shown(bad)}).",
    )
    retry_after = whole(check["nginx_proxy_maintenance_retry_after"])
    check.that(
        retry_after is not None and retry_after >= 1,
        "nginx_proxy_maintenance_retry_after must be a number of seconds, 1 or more"
        f" (got {shown(str(check['nginx_proxy_maintenance_retry_after']))}).",
    )


def is_network(value):
    """An IPv4 or IPv6 address or network, as nginx's geo takes it."""
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return False
    return matches(r"^[0-9A-Fa-f.:/]+\Z", value)


def acme_errors(check, sites):
    """nginx_proxy_acme: a certificate per site from an ACME CA, over HTTP-01."""
    if not check["nginx_proxy_acme"]:
        return
    check.that(
        check["nginx_proxy_tls"] and not check["nginx_proxy_tls_self_signed"],
        "nginx_proxy_acme needs nginx_proxy_tls: true and nginx_proxy_tls_self_signed: false"
        " (the certificates it gets are what HTTPS serves).",
    )
    check.that(
        check["nginx_proxy_remove_default_site"],
        "nginx_proxy_acme needs nginx_proxy_remove_default_site: true: the catch-all server"
        " that replaces Debian's default site answers the challenges of a site's first"
        " certificate.",
    )
    directory = str(check["nginx_proxy_acme_directory"])
    check.that(
        matches(r"^https://[^\s\"'\\]+\Z", directory),
        "nginx_proxy_acme_directory must be the https:// URL of the ACME CA's directory"
        f" (got {shown(directory)}).",
    )
    email = str(check["nginx_proxy_acme_email"])
    check.that(
        matches(r"^[^@\s\"'\\,]+@[^@\s\"'\\,]+\.[^@\s\"'\\,]+\Z", email),
        "nginx_proxy_acme needs nginx_proxy_acme_email, the address the CA writes to about"
        f" the account and its certificates (got {shown(email)}).",
    )
    ca = str(check["nginx_proxy_acme_ca_certificate"])
    check.that(
        ca == "" or "-----BEGIN CERTIFICATE-----" in ca,
        "nginx_proxy_acme_ca_certificate must be '' (the host's trusted CAs) or a PEM"
        f" certificate (got {shown(truncated(ca, 40))}).",
    )
    for site in sites:
        names = site.get("server_names", ["_"]) if isinstance(site, dict) else ["_"]
        names = names if is_list(names) else [names]
        check.that(
            names and all(matches(ACME_NAME, name) for name in names),
            f"nginx_proxy_acme: site {shown(str(site.get('name', '')))} needs server_names, the"
            " host names its certificate is for, without '_' or wildcards (HTTP-01 cannot"
            f" prove those) (got {shown(names)}).",
        )


def truncated(text, length):
    """Jinja's truncate: at most length characters, cut at a word, with '...'."""
    if len(text) <= length:
        return text
    return text[: length - 3].rsplit(" ", 1)[0] + "..."


def status_errors(check):
    listen = str(check["nginx_proxy_status_listen"])
    port = whole(listen.rsplit(":", 1)[-1])
    check.that(
        matches(STATUS_LISTEN, listen) and port is not None and 1 <= port <= 65535,
        "nginx_proxy_status_listen must be ADDRESS:PORT, an IPv4 address or an IPv6 address in"
        f" brackets and a port from 1 to 65535 (got {shown(listen)}).",
    )
    users = check["nginx_proxy_status_users"]
    check.that(
        not check["nginx_proxy_status"] or users or matches(r"^(127\.[0-9.]+|\[::1\]):", listen),
        f"nginx_proxy_status_listen {shown(listen)} is not a loopback address: set"
        " nginx_proxy_status_users (basic auth), or listen on 127.0.0.1 or [::1].",
    )
    for user in users:
        name = str(user.get("name", ""))
        check.that(
            matches(OPERATOR, name),
            "nginx_proxy_status_users: each name must be a letter or digit, then up to 31"
            f" letters, digits, '_', '.' and '-' (got {shown(name)}).",
        )
    names = [str(user.get("name", "")) for user in users]
    check.that(
        len(set(names)) == len(names),
        f"nginx_proxy_status_users names must be unique (got {', '.join(names)}).",
    )
    # One message for all users, none naming one: the passwords are not shown.
    check.that(
        all(matches(r"^[^\r\n]{8,}\Z", user.get("password", "")) for user in users),
        "nginx_proxy_status_users: each password must be at least 8 characters, on one line"
        " (the passwords are not shown).",
    )


ERRORS = {
    "circus": circus_errors,
    "django_app": django_app_errors,
    "nginx_proxy": nginx_proxy_errors,
}


def errors(role, values, context=None):
    """Every rule the role's values break, as messages for the user."""
    return ERRORS[role](values, context or {})
