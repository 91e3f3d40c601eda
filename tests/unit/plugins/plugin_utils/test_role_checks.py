"""role_checks: every bad value of tests/bad_input.py is refused with its message, by the
role's argument specs or its rules, as the preflight refuses it; good values pass; no
message shows a secret."""

import pathlib

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.webstack.circus.plugins.plugin_utils.role_checks import errors
from bad_input import CASES, CERTIFICATE, GOOD_APP, GOOD_SITE
from circus_paths import role_variables

ROLES = pathlib.Path(__file__).parents[4] / "roles"
GOOD = {"circus": {}, "django_app": GOOD_APP, "nginx_proxy": {"nginx_proxy_sites": [GOOD_SITE]}}


def refusal(role, variables, others=()):
    """The messages the role's checks.yml stops with: its argument specs' first, and only
    when they pass, its rules'."""
    values = role_variables(role, dict(GOOD[role], **variables))
    options = yaml.safe_load((ROLES / role / "meta/argument_specs.yml").read_text())[
        "argument_specs"
    ]["main"]["options"]
    by_specs = ArgumentSpecValidator(options).validate(
        {name: value for name, value in values.items() if name in options}
    )
    if by_specs.error_messages:
        return by_specs.error_messages
    return errors(role, values, {"hostname": "web1", "others": list(others)})


@pytest.mark.parametrize(("role", "variables", "message"), CASES)
def test_each_bad_value_is_refused_with_its_message(role, variables, message):
    messages = refusal(role, variables)
    assert any(message in text for text in messages), messages


@pytest.mark.parametrize("role", sorted(GOOD))
def test_good_values_pass(role):
    assert refusal(role, {}) == []


@pytest.mark.parametrize("key_file", ["/root/.ssh/mysite_deploy_key", "/etc/webstack/.keys/k"])
def test_a_deploy_key_in_a_dot_directory_passes(key_file):
    # Where ssh-keygen puts keys: molecule/user found it refused.
    assert refusal("django_app", {"django_app_git_key_file": key_file}) == []


def test_certificates_from_an_acme_ca_for_named_sites_pass():
    acme = {
        "nginx_proxy_tls": True,
        "nginx_proxy_acme": True,
        "nginx_proxy_acme_email": "ops@example.com",
        "nginx_proxy_acme_ca_certificate": CERTIFICATE,
        "nginx_proxy_sites": [dict(GOOD_SITE, server_names=["shop.example", "www.shop.example"])],
    }
    assert refusal("nginx_proxy", acme) == []


def test_every_broken_rule_is_named_at_once():
    messages = refusal("circus", {"circus_check_delay": 0, "circus_log_dir": "log"})
    assert [text.split()[0] for text in messages] == ["circus_log_dir", "circus_check_delay"]


@pytest.mark.parametrize(
    ("role", "variables"),
    [
        ("circus", {"circus_pip_index_url": "https://u:s3cret-pw@index.example/x y"}),
        ("django_app", {"django_app_pip_index_url": "http://u:s3cret-pw@index.example/"}),
        ("django_app", {"django_app_source": "https://u:s3cret-pw@git.example/shop x"}),
        ("nginx_proxy", {"nginx_proxy_tls": True, "nginx_proxy_tls_certificate_key": "s3cret-pw"}),
        (
            "nginx_proxy",
            {"nginx_proxy_status_users": [{"name": "ops", "password": "s3cret-pw\n"}]},
        ),
    ],
)
def test_no_message_shows_a_secret(role, variables):
    messages = refusal(role, variables)
    assert messages
    assert not [text for text in messages if "s3cret-pw" in text], messages


def test_a_source_with_credentials_comes_alone():
    """Other checks of the source show it: they are left out."""
    messages = refusal(
        "django_app", {"django_app_source": "https://u:pw@x/a b", "django_app_user": "root"}
    )
    assert len(messages) == 1 and "must not hold credentials" in messages[0], messages


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (
            {"port": 8000},
            "django_app_socket_port 8000 of app shop is the port of app blog on web1",
        ),
        ({"user": "shop"}, "django_app_user shop of app shop is the user of app blog on web1"),
        (
            {"home": "/srv/shop"},
            "django_app_home /srv/shop of app shop is the home of app blog on web1",
        ),
    ],
)
def test_apps_checked_before_on_the_host_keep_their_port_user_and_home(other, message):
    blog = dict({"name": "blog", "port": 8001, "user": "blog", "home": "/srv/blog"}, **other)
    assert refusal("django_app", {}, [blog]) == [
        message + ": give each app its own " + message.split(" is the ")[1].split()[0] + "."
    ]
    # The app itself, checked again (a second preflight), is no other app.
    assert refusal("django_app", {}, [dict(blog, name="shop")]) == []
