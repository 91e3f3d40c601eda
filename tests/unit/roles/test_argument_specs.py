"""Every role documents exactly the variables it defaults, with the same defaults."""

import pathlib

import pytest
import yaml

ROLES = pathlib.Path(__file__).parents[3] / "roles"


def role_interface(role):
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    return defaults, specs["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", sorted(path.name for path in ROLES.iterdir()))
def test_defaults_equal_argument_specs(role):
    defaults, options = role_interface(role)
    required = {name for name, spec in options.items() if spec.get("required")}
    assert set(defaults) == set(options) - required
    for name, value in defaults.items():
        assert options[name].get("default") == value, name


@pytest.mark.parametrize("role", sorted(path.name for path in ROLES.iterdir()))
def test_every_variable_carries_the_role_prefix(role):
    options = role_interface(role)[1]
    assert [name for name in options if not name.startswith(role + "_")] == []
