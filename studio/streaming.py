"""Streamed responses stay streamed under ASGI.

Django's ASGI handler reads a response's synchronous iterator to the end before sending any of
it (with a warning): a "Download all" zip, built as it is sent, would be built whole in memory
first, and every image original read into memory. This hands such a response over as an
asynchronous iterator instead, taking the next pieces (up to PIECE_BYTES at a time) on the
request's thread, so memory stays at one piece whatever the size. Under WSGI it does nothing.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest

PIECE_BYTES = 256 * 1024


class AsyncStreamingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            response.streaming_content = _pieces(iter(response.streaming_content))
        return response


def _take(iterator) -> bytes:
    """The next pieces of `iterator`, joined, up to about PIECE_BYTES (empty at the end)."""
    taken: list[bytes] = []
    size = 0
    for piece in iterator:
        taken.append(piece)
        size += len(piece)
        if size >= PIECE_BYTES:
            break
    return b"".join(taken)


async def _pieces(iterator):
    take = sync_to_async(_take, thread_sensitive=True)
    while piece := await take(iterator):
        yield piece
