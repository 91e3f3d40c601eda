"""A WSGI app for the worker hook tests: /slow answers after SLOW_SECONDS."""

import time

SLOW_SECONDS = 1.5


def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(SLOW_SECONDS)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done\n"]
