"""ASGI entry point: the django_app role serves it with django_app_server: uvicorn.

Beside Django, a WebSocket echo at /ws/echo/ (each text message sent back), which
shows WebSockets pass through nginx and Circus; uvicorn speaks the protocol with the
websockets package (demo/requirements.txt). Other WebSocket paths are refused.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

django_application = get_asgi_application()


async def echo(receive, send):
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": event.get("text") or ""})
        else:  # websocket.disconnect
            return


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        await django_application(scope, receive, send)
    elif scope["path"] == "/ws/echo/":
        await echo(receive, send)
    else:
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 4404})
