"""Compress pages and fragments on the wire.

Django's GZipMiddleware compresses every response it may; this narrows it to text that is worth
it: the studio's HTML pages and htmx fragments, plain-text messages, JSON and CSV. Images and
zips are compressed already (gzip would only cost CPU), static files come precompressed from
whitenoise, and a Server-Sent Events stream must reach the browser event by event, not held in a
compressor's buffer.

CSRF tokens in compressed pages are masked afresh on every response (Django's BREACH defence).
"""

from django.middleware.gzip import GZipMiddleware

COMPRESSED_TYPES = ("text/html", "text/plain", "application/json", "text/csv")


class CompressPagesMiddleware(GZipMiddleware):
    def process_response(self, request, response):
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        # `incompressible`: JSON that is mostly images in base64 (an answer of the studio's API,
        # api/endpoints.py): gzip would spend about half a second on a 4K image to save a quarter.
        if content_type not in COMPRESSED_TYPES or getattr(response, "incompressible", False):
            return response
        return super().process_response(request, response)
