"""The demo answers through nginx on the scenario's host."""

from helpers import http_get


def test_demo_answers_through_nginx(host):
    answer = http_get(host, "/healthz")
    assert answer["status"] == 200
    assert answer["body"].strip() == "ok"
