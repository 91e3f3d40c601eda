"""An ASGI app for the worker hook tests: /slow answers after SLOW_SECONDS."""

import asyncio

SLOW_SECONDS = 1.5


async def application(scope, receive, send):
    del receive
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(SLOW_SECONDS)
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"done\n"})
