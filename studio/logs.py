"""Logs: one line per event, each carrying what it is about.

A web request's lines carry its request id (studio/request_id.py sets it); a worker's lines carry
the run they concern ("run-12"). The id lives in a context variable, so it follows the request
into the thread its view runs on and the run into its coroutines, and the filter below puts it
on every record (as `request_id`) whichever logger wrote it. A traceback stays on its line, its
line breaks written as "\\n", so a log collector never splits one event into many.
"""

import contextlib
import contextvars
import logging

# What the current lines are about: a request id, "run-12", or "-" for nothing in particular.
current_id: contextvars.ContextVar[str] = contextvars.ContextVar("log_id", default="-")


@contextlib.contextmanager
def about(label: str):
    """Log the lines written inside this block as being about `label`."""
    token = current_id.set(label)
    try:
        yield
    finally:
        current_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (what the line is about) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_id.get()
        return True


class OneLineFormatter(logging.Formatter):
    """The usual format, with any line breaks (a traceback, a message) escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")
