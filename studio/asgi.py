"""The studio as an ASGI application (served by uvicorn: `manage.py runstudio`).

Django's handler serves every page; the live stream (`events`, gallery/push/stream.py) is routed
past it, so that an open stream is a coroutine rather than a thread. Lifespan messages are
answered here (Django's handler speaks only HTTP): on shutdown the push listener lets go.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

django_application = get_asgi_application()

from django.urls import reverse  # noqa: E402  (after Django is set up)

from gallery.push import hub as hubs  # noqa: E402
from gallery.push import stream  # noqa: E402
from studio import logs, request_id  # noqa: E402

EVENTS_PATH = reverse("events")


async def application(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await hubs.stop_running_loop()
                return await send({"type": "lifespan.shutdown.complete"})
            await send({"type": "lifespan.startup.complete"})
    if scope["type"] == "http" and scope["path"] == EVENTS_PATH:
        # Past Django's middleware, so the stream takes its request id (for its log lines) here.
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        with logs.about(request_id.accepted_or_new(sent)):
            return await stream.application(scope, receive, send)
    return await django_application(scope, receive, send)
