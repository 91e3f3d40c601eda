"""A WSGI and an ASGI app that import the module `lazy` only when the first request
comes, and answer lazy.RELEASE and the worker's pid."""

import os


def answer():
    # Imported late on purpose: the test moves `current` before the first request.
    import lazy

    return f"{lazy.RELEASE} {os.getpid()}".encode()


def application(environ, start_response):
    body = answer()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    body = answer()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})
