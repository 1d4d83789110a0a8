"""The gallery's facets: aspect ratio, "has edits", "failed" (GalleryFilterForm and
selectors._filtered), plain and htmx, with the viewer's visibility applied and the query count
pinned."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gallery.catalog import Choice
from gallery.models import EditSource, Image, Run
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db


def finished(user, prompt, ratio="16:9", *, count=1):
    run = make_run(
        user, prompt=prompt, count=count, choice=Choice(aspect_ratio=ratio, resolution="1K")
    )
    for image in run.images.all():
        make_succeeded_image(image)
    return run


def prompts(client, **params) -> set[str]:
    response = client.get("/", params)
    assert response.status_code == 200
    html = response.content.decode()
    return {p for p in ("wide", "square", "tall", "broken", "source", "edit") if f">{p}<" in html}


def test_aspect_ratio_facet(signed_in, user):
    finished(user, "wide", "16:9")
    finished(user, "square", "1:1")
    finished(user, "tall", "9:16")
    assert prompts(signed_in, aspect="16:9") == {"wide"}
    assert prompts(signed_in, aspect="1:1") == {"square"}
    assert prompts(signed_in, aspect="9:16") == {"tall"}
    assert prompts(signed_in, aspect="landscape") == {"wide"}
    assert prompts(signed_in, aspect="portrait") == {"tall"}
    assert prompts(signed_in, aspect="4:3") == set()
    assert prompts(signed_in) == {"wide", "square", "tall"}
    results = signed_in.get(
        "/", {"aspect": "1:1"}, headers={**htmx_headers(), "HX-Target": "gallery-results"}
    ).content.decode()
    assert ">square<" in results and ">wide<" not in results and "<html" not in results
    page = signed_in.get("/", {"aspect": "1:1"}).content.decode()
    assert '<option value="1:1" selected>' in page
    refused = signed_in.get("/", {"aspect": "7:5"})
    assert refused.status_code == 400 and "not an aspect ratio" in refused.content.decode()


def test_failed_facet(signed_in, user):
    finished(user, "wide")
    broken = finished(user, "broken", count=2)
    first, second = broken.images.all()
    Image.objects.filter(pk=first.pk).update(status=Image.Status.INTERRUPTED, error="Stopped.")
    assert prompts(signed_in, failed="on") == {"broken"}
    # A failed image that was deleted no longer counts.
    Image.objects.filter(pk=first.pk).update(deleted_at=second.finished_at)
    assert prompts(signed_in, failed="on") == set()
    Image.objects.filter(pk=second.pk).update(
        status=Image.Status.FAILED, error="The provider failed."
    )
    assert prompts(signed_in, failed="on") == {"broken"}


def test_has_edits_facet_counts_only_edits_the_viewer_can_see(client, user, other_user):
    source = finished(user, "source")
    finished(user, "wide")
    edit = finished(other_user, "edit")
    Run.objects.filter(pk=edit.pk).update(kind=Run.Kind.EDIT, is_private=True)
    EditSource.objects.create(run=edit, position=0, image=source.images.get())
    client.force_login(other_user)
    assert prompts(client, edited="on") == {"source"}  # grace made the edit
    client.force_login(user)
    assert prompts(client, edited="on") == set()  # ada cannot see grace's private edit
    Run.objects.filter(pk=edit.pk).update(is_private=False)
    assert prompts(client, edited="on") == {"source"}
    Run.objects.filter(pk=edit.pk).update(deleted_at=source.created_at)
    assert prompts(client, edited="on") == set()


def test_the_lightbox_walks_within_the_facets(signed_in, user):
    older = finished(user, "tall", "9:16").images.get()
    finished(user, "wide", "16:9")
    newer = finished(user, "tall", "9:16").images.get()
    html = signed_in.get(
        f"/images/{newer.pk}/", {"aspect": "portrait"}, headers=htmx_headers()
    ).content.decode()
    assert f'href="/images/{older.pk}/?aspect=portrait"' in html


def test_facets_cost_no_extra_queries(signed_in, user):
    runs = [finished(user, f"run {i}", "16:9" if i % 2 else "9:16", count=2) for i in range(25)]
    failed = Image.objects.order_by("pk")[:10]
    Image.objects.filter(pk__in=[i.pk for i in failed]).update(status=Image.Status.FAILED)
    # Run 0 (9:16, failed) was edited, by the newest run: all three facets match it.
    EditSource.objects.create(run=runs[-1], position=0, image=runs[0].images.first())
    signed_in.get("/")  # warm per-process memos

    def count(params) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert signed_in.get("/", params).status_code == 200
        return len(queries)

    plain = count({})
    html = signed_in.get("/", {"aspect": "9:16", "failed": "on", "edited": "on"}).content
    assert html.decode().count("<article") == 1
    assert count({"aspect": "9:16", "failed": "on", "edited": "on"}) == plain
    assert count({"aspect": "landscape"}) == plain
