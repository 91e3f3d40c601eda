"""deploy.yml refuses, on the controller and before any host is reached, to roll out to
app hosts that have no health check, unless told to; with a health path, or told, the
gate lets the run on (only the gate's tag runs here: nothing is deployed)."""

import json

import pytest

from conftest import HERE, run_playbook

MESSAGE = "has none: set django_app_health_path to a path of the app"


def deploy(tmp_path, host_vars, *extra):
    inventory = tmp_path / "inventory.json"
    hosts = {
        "web1": dict(host_vars, ansible_host="192.0.2.10"),
        "web2": {"ansible_host": "192.0.2.11"},
    }
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "children": {"app": {"hosts": hosts}},
                    "vars": {"django_app_name": "shop", "django_app_health_path": "/healthz"},
                }
            }
        )
    )
    return run_playbook(
        HERE.parents[1] / "deploy.yml",
        "-i",
        str(inventory),
        "--tags",
        "deploy_health_gate",
        "--skip-tags",
        "always",
        *extra,
    )


def test_a_host_without_a_health_path_stops_the_deploy_before_any_host_is_reached(tmp_path):
    result = deploy(tmp_path, {"django_app_health_path": ""})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"web1 {MESSAGE}" in output
    assert "web2 has none" not in output
    # The preflight play, the first to reach the hosts, never started.
    assert "Check the variables of every role" not in output


@pytest.mark.parametrize(
    ("host_vars", "extra"),
    [({}, ()), ({"django_app_health_path": ""}, ("-e", "deploy_without_health_check=true"))],
)
def test_a_health_path_or_an_explicit_no_lets_the_deploy_on(tmp_path, host_vars, extra):
    result = deploy(tmp_path, host_vars, *extra)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert MESSAGE not in output
