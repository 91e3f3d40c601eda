"""Each of circusd's paths is set once: the circus role derives its endpoints and
include_dir from its directories, and django_app takes the circus role's values, or the
same defaults when the circus role is not in the play."""

import pathlib

import jinja2
import pytest
import yaml

from circus_paths import circus_variables

DJANGO_APP_DEFAULTS = pathlib.Path(__file__).parents[3] / "roles/django_app/defaults/main.yml"
# django_app's view of circusd, and the circus role's value it must equal.
VIEWS = {
    "django_app_circus_endpoint": lambda circus: circus["circus_endpoint"],
    "django_app_circus_include_dir": lambda circus: circus["circus_include_dir"],
    "django_app_circus_log_dir": lambda circus: circus["circus_log_dir"],
    "django_app_circusctl_path": lambda circus: circus["circus_venv"] + "/bin/circusctl",
}
MOVED = {
    "circus_run_dir": "/run/circus-alt",
    "circus_venv": "/opt/circus-alt",
    "circus_conf_dir": "/etc/circus-alt",
    "circus_log_dir": "/var/log/circus-alt",
}


def django_app_view(play_variables):
    defaults = yaml.safe_load(DJANGO_APP_DEFAULTS.read_text())
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return {name: environment.from_string(defaults[name]).render(play_variables) for name in VIEWS}


def test_endpoints_and_include_dir_follow_the_directories():
    moved = circus_variables(MOVED)
    assert moved["circus_endpoint"] == "ipc:///run/circus-alt/circusd.sock"
    assert moved["circus_pubsub_endpoint"] == "ipc:///run/circus-alt/pubsub.sock"
    assert moved["circus_include_dir"] == "/etc/circus-alt/conf.d"


@pytest.mark.parametrize(
    "play_variables",
    [
        pytest.param(circus_variables(MOVED), id="circus role in the play"),
        pytest.param(MOVED, id="circus variables in the inventory only"),
        pytest.param({}, id="no circus variable"),
    ],
)
def test_django_app_sees_the_circus_roles_paths(play_variables):
    circus = circus_variables(play_variables)
    assert django_app_view(play_variables) == {name: view(circus) for name, view in VIEWS.items()}


def test_values_plain_jinja_cannot_render_do_not_stop_the_paths():
    """molecule/apps sets circus_pip_index_url from another inventory variable and
    circus_pip_cert from a lookup: the paths are still derived."""
    variables = circus_variables(
        {
            "circus_run_dir": "/run/circus-alt",
            "circus_pip_index_url": "https://{{ index_credentials }}@localhost/simple/",
            "index_credentials": "deploy:secret",
            "circus_pip_cert": "{{ lookup('ansible.builtin.file', '/ca.pem') }}",
        }
    )
    assert variables["circus_endpoint"] == "ipc:///run/circus-alt/circusd.sock"
    assert variables["circus_pip_index_url"] == "https://deploy:secret@localhost/simple/"
    assert variables["circus_pip_cert"] == "{{ lookup('ansible.builtin.file', '/ca.pem') }}"
