"""Reading never writes: every GET of the studio, as a member and as an admin, plain and over
htmx, runs no INSERT, UPDATE or DELETE. (Marking stuck tiles interrupted is the worker's job and
`manage.py reap_stale`'s, not a page's.)

The URLs and the rows their ids point at come from the hostile-parameter walk."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gallery.models import Image, Run
from team.models import TeamPolicy

# `world` is a fixture: imported, it is found here too.
from tests.test_hostile_params import HTMX_TARGETS, fill, real_values, routes, world  # noqa: F401

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
# Django's own session rows may be written by any request; they are not the studio's data.
SESSION_TABLE = '"django_session"'


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries if WRITE.match(q["sql"]) and SESSION_TABLE not in q["sql"]]


def walk_gets(walker, real) -> int:
    """GET every URL, each way of asking; fail naming the first one that wrote."""
    sent = 0
    for route in routes():
        for value in real_values(route, real):
            url = fill(route, value)
            for who, client in walker.clients.items():
                for target in (None, *HTMX_TARGETS):
                    headers = {} if target is None else {"HX-Request": "true", "HX-Target": target}
                    with CaptureQueriesContext(connection) as queries:
                        response = client.get(url, headers=headers)
                        if response.streaming:
                            b"".join(response.streaming_content)
                    sent += 1
                    assert response.status_code < 500, (url, who, target)
                    assert not writes(queries), f"GET {url} as {who}, target {target!r} wrote"
    return sent


@pytest.mark.django_db
def test_no_get_writes_to_the_database(request):
    walker, real = request.getfixturevalue("world")
    # A tile whose worker died and one no worker picked up: what a reading view used to reap.
    run = Run.objects.get(pk=real["runs/"][0])
    Run.objects.filter(pk=run.pk).update(heartbeat_at=None)
    stuck = Image.objects.filter(pk=real["images/"][1])
    stuck.update(status=Image.Status.RUNNING, error="")
    assert walk_gets(walker, real) > 100
    assert stuck.get().status == Image.Status.RUNNING


@pytest.mark.django_db
def test_no_get_writes_before_the_team_policy_was_ever_saved(request):
    """The team's rules are read on most pages; reading them must not make their row."""
    walker, real = request.getfixturevalue("world")
    TeamPolicy.objects.all().delete()
    walk_gets(walker, real)
    assert not TeamPolicy.objects.exists()
