"""URLs of the many tiles on a gallery page, without a full `reverse()` for each.

A page draws ~100 tiles with five links each; `{% url %}` costs tens of microseconds a call, the
largest single cost of drawing the page. The URL pattern of each name is reversed once, with a
marker id, and the id is put in its place after that."""

from functools import cache

from django.urls import reverse

_MARKER = "918273645"


# Per process, and right to be: URL patterns are code, the same in every process.
@cache
def _halves(name: str) -> tuple[str, str]:
    prefix, _, suffix = reverse(name, args=[int(_MARKER)]).partition(_MARKER)
    return prefix, suffix


def url_for(name: str, pk: int) -> str:
    """reverse(name, args=[pk]) for URLs that take one id."""
    prefix, suffix = _halves(name)
    return f"{prefix}{pk}{suffix}"
