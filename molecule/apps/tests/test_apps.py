"""The demo answers through nginx on the scenario's host."""

import pytest
from helpers import http_get, unpinned


def test_demo_answers_through_nginx(host):
    answer = http_get(host, "/healthz")
    assert answer["status"] == 200
    assert answer["body"].strip() == "ok"


@pytest.mark.parametrize(
    ("app", "requirements_file"),
    [("demo", "requirements-celery.txt"), ("shop", "requirements.txt")],
)
def test_the_demo_pins_every_package_it_installs(host, app, requirements_file):
    """The demo with Celery, installed from the controller's wheels: its requirements files
    pin Celery's dependencies too (a wheelhouse built on a fresh controller resolves the
    same), and the second app from the demo's plain requirements."""
    assert unpinned(host, app, requirements_file, "chaussette") == []
