"""Every request gets an id: the one a proxy sent in X-Request-ID (nginx's $request_id, say), or
a new one. It is sent back in the same header, put on every log line written while the request
is handled (studio/logs.py), and the request itself is logged as one line when it is answered."""

import logging
import re
import time
import uuid

from django.utils.log import log_response

from studio import logs

logger = logging.getLogger("studio.requests")

HEADER = "X-Request-ID"
# An id from outside is taken only if it is short and plain, so nobody can forge log lines.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,100}")


def request_id_from(request) -> str:
    return accepted_or_new(request.headers.get(HEADER, ""))


def accepted_or_new(sent: str) -> str:
    """The id a proxy sent, if it is one we take; else a new one."""
    return sent if _ACCEPTED.fullmatch(sent) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Outermost: the id covers everything the other middleware and the view log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = request_id_from(request)
        started = time.perf_counter()
        with logs.about(request.id):
            response = self.get_response(request)
            response[HEADER] = request.id
            # Django logs a 4xx/5xx answer after every middleware is done, where the id is no
            # longer set: log it here, with the id (Django then skips it).
            if response.status_code >= 400 and not getattr(response, "_has_been_logged", False):
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
            logger.info(
                "%s %s %s %.1fms",
                request.method,
                loggable_path(request),
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
        return response


def loggable_path(request) -> str:
    """The path without its query string (a query may carry what a person typed) and without
    the text parts of the URL (an invite's token is a secret): ids stay, tokens become <token>."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in match.kwargs.items() if match else ():
        if isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
    return path
