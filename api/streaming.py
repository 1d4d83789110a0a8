"""`stream=true`: the answer as Server-Sent Events in OpenAI's image-stream format, one
`<kind>.completed` event per image the moment it is stored (kind: `image_generation`, or
`image_edit` for an edit). No partial images: the gateway makes none.

A failed image is an `<kind>.failed` event (the studio's own: OpenAI's SDKs pass an unknown
event through, while an `error` event would end the stream for the images still coming); if no
image could be made at all, or the wait ran out, the stream ends with an `error` event, which
the SDKs raise as an APIError.
"""

import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

from api import answers
from api.errors import TYPES, ApiError
from gallery.models import Run


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def _events(request, run: Run, *, response_format: str, kind: str) -> AsyncIterator[bytes]:
    sent: set[int] = set()
    made = 0
    failed: list[dict] = []
    entry = sync_to_async(answers.image_entry, thread_sensitive=False)
    try:
        async for images in answers.images_as_they_land(request, run):
            for index, image in enumerate(images):
                if image.pk in sent or image.is_pending:
                    continue
                sent.add(image.pk)
                if not image.is_done:
                    failure = answers.failure(index, image)
                    failed.append(failure)
                    yield _event(f"{kind}.failed", {"type": f"{kind}.failed", **failure})
                    continue
                made += 1
                data = {
                    "type": f"{kind}.completed",
                    **await entry(request, image, response_format=response_format),
                    "created_at": int(run.created_at.timestamp()),
                    "size": f"{image.width}x{image.height}",
                    "output_format": image.format,
                    "usage": {"cost": float(image.cost or 0)},
                }
                yield _event(data["type"], data)
        if not made:
            raise answers.all_failed(failed)
    except ApiError as error:
        body = {"message": error.message, "type": TYPES.get(error.status, "api_error"),
                "param": error.param, "code": error.code}  # fmt: skip
        yield _event("error", {"type": "error", "error": body})


def event_stream(request, run: Run, *, response_format: str, edit: bool) -> StreamingHttpResponse:
    kind = "image_edit" if edit else "image_generation"
    response = StreamingHttpResponse(
        _events(request, run, response_format=response_format, kind=kind),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: send each event as it comes
    return response
