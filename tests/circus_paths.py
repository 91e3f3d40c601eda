"""Where the circus role puts circusd's files, read from the role's own defaults: the one
source the unit, integration and Molecule tests and the benches take these paths from.

A host's inventory may override any circus_* variable (the Molecule scenario moves
circus_run_dir and circus_venv); the derived values (endpoints, include_dir) follow, as
they do when Ansible renders the defaults.

Usage: python3 tests/circus_paths.py [--vars FILE.yml ...] NAME ...
prints each NAME on its own line: a circus_* variable, or `circusctl` (the command
with its endpoint) or `circusctl_path`.
"""

import argparse
import pathlib

import jinja2
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def circus_variables(overrides=None):
    """The circus role's variables: its defaults, with the circus_* values of overrides
    (a host's variables), every template rendered."""
    return role_variables("circus", overrides)


def role_variables(role, overrides=None):
    """A role's variables: its defaults and the ROLE_* values of overrides, every template
    rendered (with the other values of overrides, as a host's variables)."""
    values = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    values.update({k: v for k, v in (overrides or {}).items() if k.startswith(role + "_")})
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)

    def render(value):
        # A value made of what plain Jinja lacks (Ansible's lookups, a variable of the
        # inventory that is not given) is none of the paths these tests read: kept as is.
        try:
            return environment.from_string(value).render(dict(overrides or {}, **values))
        except jinja2.exceptions.UndefinedError:
            return value

    for _depth in range(len(values)):
        rendered = {
            name: render(value) if isinstance(value, str) else value
            for name, value in values.items()
        }
        if rendered == values:
            return values
        values = rendered
    raise ValueError(f"the {role} role's defaults do not settle: {values}")


def circusctl_path(variables):
    return f"{variables['circus_venv']}/bin/circusctl"


def circusctl(variables):
    """circusctl with the control endpoint, as root or a member of circus_admin_group runs it."""
    return f"{circusctl_path(variables)} --endpoint {variables['circus_endpoint']}"


DEFAULT = circus_variables()
CIRCUSCTL_PATH = circusctl_path(DEFAULT)
ENDPOINT = DEFAULT["circus_endpoint"]
RUN_DIR = DEFAULT["circus_run_dir"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--vars", action="append", default=[], help="YAML file of overrides")
    parser.add_argument("names", nargs="+")
    arguments = parser.parse_args()
    overrides = {}
    for path in arguments.vars:
        overrides.update(yaml.safe_load(pathlib.Path(path).read_text()) or {})
    variables = circus_variables(overrides)
    derived = {"circusctl": circusctl(variables), "circusctl_path": circusctl_path(variables)}
    for name in arguments.names:
        print(derived[name] if name in derived else variables[name])


if __name__ == "__main__":
    main()
