"""Bad role variables are refused, with a message that names them, before any change."""

import json
import pathlib
import re

import pytest
import yaml

from bad_input import CASES, GOOD_APP, GOOD_SITE, PLAYBOOK_CASES

ROLES = pathlib.Path(__file__).parents[2] / "roles"
# A task as ansible-playbook announces it: TASK [ROLE : NAME] or TASK [NAME].
TASK = re.compile(r"^TASK \[(?:webstack\.circus\.[a-z_]+ : )?(.*)\] \**$", re.MULTILINE)
# A failed task's result, as ansible-playbook prints it.
FAILED = re.compile(r"^fatal: \[[^]]+\]: FAILED! => (\{.*\})$", re.MULTILINE)


def by_specs(message):
    """Whether the role's argument specs refuse the case (not its rules)."""
    return message.startswith(("argument '", "value of "))


# The unit tests check every case (tests/bad_input.py) against the role's argument specs
# and rules; these go through ansible-playbook: for each role, the first case its argument
# specs refuse and the first two its rules refuse; and the cases only a run finds.
SAMPLE = [
    case
    for role in ("circus", "django_app", "nginx_proxy")
    for pick, count in ((True, 1), (False, 2))
    for case in [case for case in CASES if case[0] == role and by_specs(case[2]) == pick][:count]
] + PLAYBOOK_CASES


@pytest.mark.parametrize(("role", "variables", "message"), SAMPLE)
def test_bad_variables_stop_the_role_before_it_changes_anything(
    tmp_path, ansible_playbook, role, variables, message
):
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(dict(variables, role_under_test=role)))
    result = ansible_playbook("roles/preflight.yml", "--check", "-e", "@" + str(extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in output, output
    # The role stopped in its first tasks: nothing but validation ran.
    assert [name for name in TASK.findall(result.stdout) if not validates(role, name)] == [], output


def validates(role, task_name):
    """Whether the task is the role's argument validation, the include of its preflight
    checks (tasks/main.yml) or one of them (tasks/preflight.yml, and the read.yml and
    checks.yml it imports and includes)."""
    main = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text())
    preflight = [
        task
        for name in ("preflight.yml", "read.yml", "checks.yml")
        for task in yaml.safe_load((ROLES / role / "tasks" / name).read_text())
    ]
    include = [
        task["name"]
        for task in main
        if task.get("ansible.builtin.include_tasks", {}).get("file") == "preflight.yml"
    ]
    return (
        task_name == "Apply the role"
        or task_name.startswith("Validating arguments against arg spec")
        or task_name in include + [task["name"] for task in preflight]
    )


@pytest.mark.parametrize("role", ["circus", "django_app"])
def test_a_refused_index_url_does_not_show_its_password(tmp_path, ansible_playbook, role):
    variables = dict(GOOD_APP) if role == "django_app" else {}
    variables[f"{role}_pip_index_url"] = "https://deploy:s3cret-pw@index.example/simple/\n"
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(dict(variables, role_under_test=role)))
    result = ansible_playbook("roles/preflight.yml", "--check", "-v", "-e", "@" + str(extra))
    output = result.stdout + result.stderr
    assert f"{role}_pip_index_url must be empty or an https:// URL" in output, output
    assert "s3cret-pw" not in output, output


@pytest.mark.parametrize(
    "source",
    [
        "https://deploy:s3cret-pw@git.example/shop.git",
        "https://s3cret-pw@git.example/shop.git",
        "git+https://deploy:s3cret-pw@git.example/shop",
        "ssh://deploy:s3cret-pw@git.example/shop.git",
        # Not a git URL to the role (no .git): read as a directory, whose check shows it.
        "https://deploy:s3cret-pw@git.example/shop",
    ],
)
def test_a_source_url_with_credentials_is_refused_without_showing_them(
    tmp_path, ansible_playbook, source
):
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps(dict(GOOD_APP, django_app_source=source, role_under_test="django_app"))
    )
    result = ansible_playbook("roles/preflight.yml", "--check", "-v", "-e", "@" + str(extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "django_app_source must not hold credentials" in output, output
    assert "s3cret-pw" not in output, output


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"second_port": 8000}, "django_app_socket_port 8000 of app shop is the port of app blog"),
        ({"second_user": "blog"}, "django_app_user blog of app shop is the user of app blog"),
        (
            {"second_home": "/srv/blog"},
            "django_app_home /srv/blog of app shop is the home of app blog",
        ),
        ({}, None),
    ],
)
def test_two_apps_of_one_host_take_their_own_port_user_and_home(
    tmp_path, ansible_playbook, second, message
):
    extra = tmp_path / "vars.json"
    values = {"second_port": 8001, "second_user": "shop", "second_home": "/srv/shop"}
    extra.write_text(json.dumps(dict(values, **second)))
    result = ansible_playbook("roles/two_apps_preflight.yml", "--check", "-e", "@" + str(extra))
    output = result.stdout + result.stderr
    if message is None:
        assert result.returncode == 0, output
    else:
        assert result.returncode != 0, output
        assert message in output, output


@pytest.mark.parametrize(
    ("role", "variables"),
    [("circus", {}), ("django_app", GOOD_APP), ("nginx_proxy", {"nginx_proxy_sites": [GOOD_SITE]})],
)
def test_the_preflight_makes_no_digest_key_on_a_fresh_host(
    tmp_path, ansible_playbook, role, variables
):
    """The preflight reads the role's record to skip checks it passed before, and changes
    nothing: the host's digest key is made by the role's first complete run."""
    key = pathlib.Path("/var/lib/webstack/records/.digest-key")
    if key.exists():
        pytest.skip(f"{key} exists on this machine already")
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(dict(variables, role_under_test=role)))
    result = ansible_playbook("roles/role_preflight.yml", "-e", "@" + str(extra))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{role} : Read whether " in result.stdout
    assert not key.exists()


@pytest.mark.parametrize(
    "watchers",
    ["celery", [["celery"]], [{"command": ["celery"]}], [{"name": "beat", "cmd": ["celery"]}]],
)
def test_malformed_watchers_are_refused_by_the_preflight_alone(
    tmp_path, ansible_playbook, watchers
):
    """site.yml's preflight play includes the role's preflight, not the role: a
    django_app_watchers that is no list of named mappings is refused there, by the role's
    argument specs, before the checks written for such a list read it."""
    errors = preflight_errors(
        tmp_path, ansible_playbook, "django_app", dict(GOOD_APP, django_app_watchers=watchers)
    )
    assert any("django_app_watchers" in error for error in errors), errors


def preflight_errors(tmp_path, ansible_playbook, role, variables):
    """Runs the role's preflight alone, as site.yml's preflight play does, with these
    variables, and returns the errors of its check against the role's argument specs."""
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(dict(variables, role_under_test=role)))
    result = ansible_playbook("roles/role_preflight.yml", "-e", "@" + str(extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    failed = FAILED.search(result.stdout)
    assert failed, output
    return json.loads(failed.group(1)).get("argument_errors", [])


def spec_options(role):
    return yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())[
        "argument_specs"
    ]["main"]["options"]


# What each kind of option can never take.
NOT_A_BOOLEAN = "maybe"
NOT_A_NUMBER = "soon"
NOT_A_CHOICE = "no-such-choice"


@pytest.mark.parametrize(
    ("role", "variables"),
    [("circus", {}), ("django_app", GOOD_APP), ("nginx_proxy", {"nginx_proxy_sites": [GOOD_SITE]})],
)
def test_the_preflight_alone_refuses_every_value_of_the_wrong_type_or_outside_its_choices(
    tmp_path, ansible_playbook, role, variables
):
    """include_role's tasks_from skips the role's argument validation: without a check of
    its own, site.yml's preflight let a boolean such as "maybe" through, and the role
    refused it only once it ran, after the roles before it had changed the host. Every
    boolean, number and choice of the role's argument specs is set to a value it cannot
    take, at once: the preflight alone must name each of them."""
    bad = {}
    for name, option in spec_options(role).items():
        if "choices" in option:
            bad[name] = NOT_A_CHOICE
        elif option.get("type") == "bool":
            bad[name] = NOT_A_BOOLEAN
        elif option.get("type") == "int":
            bad[name] = NOT_A_NUMBER
    assert len(bad) >= 5, bad
    errors = preflight_errors(tmp_path, ansible_playbook, role, dict(variables, **bad))
    unnamed = [name for name in bad if not any(re.search(rf"\b{name}\b", e) for e in errors)]
    assert unnamed == [], errors


def test_a_bad_value_on_one_host_stops_every_host_before_any_change(tmp_path, ansible_playbook):
    """site.yml on two hosts, one with a bad port: the preflight play stops the whole run
    (any_errors_fatal), so no role runs on the good host either. In check mode: were the
    run to go on, nothing would change on this machine."""
    host = dict(
        GOOD_APP,
        ansible_connection="local",
        ansible_become=False,
        ansible_python_interpreter="{{ ansible_playbook_python }}",
        nginx_proxy_sites=[GOOD_SITE],
    )
    hosts = {"web1": host, "web2": dict(host, django_app_socket_port=70000)}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": hosts,
                    "children": {"app": {"hosts": dict.fromkeys(hosts)}, "proxy": {"hosts": {}}},
                }
            }
        )
    )
    result = ansible_playbook("../../site.yml", "-i", str(inventory), "--check")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "django_app_socket_port must be from 1 to 65535 (got 70000)" in output, output
    # web1's values passed, web2's did not, and no play after the preflight started.
    assert re.search(r"^ok: \[web1\]", output, re.MULTILINE), output
    assert re.findall(r"^PLAY \[(.*)\]", output, re.MULTILINE) == [
        "Check the variables of every role"
    ], output
