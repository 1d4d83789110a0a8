"""Full-text search over prompts and revised prompts (SQLite FTS5 / PostgreSQL full-text):
words in revised prompts, stemming and prefixes, best match first, keyset pages with no run
shown twice or skipped, hostile strings, and the query count."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gallery.models import Image, Run
from gallery.selectors import GALLERY_PAGE_SIZE
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db

RESULTS = {**htmx_headers(), "HX-Target": "gallery-results"}
RUN_ID = re.compile(r'id="run-(\d+)"')
OLDER = re.compile(r'before=(\d+)" hx-trigger="revealed, click"')


def finished_run(user, prompt, *, revised=""):
    run = make_run(user, prompt=prompt, count=1)
    for image in run.images.all():
        make_succeeded_image(image)
    if revised:
        Image.objects.filter(run=run).update(revised_prompt=revised)
    return run


def shown(client, q, **params) -> list[int]:
    response = client.get("/", {"q": q, **params}, headers=RESULTS)
    assert response.status_code == 200
    return [int(pk) for pk in RUN_ID.findall(response.content.decode())]


def test_words_in_revised_prompts_match_with_stemming_and_prefixes(signed_in, user):
    lighthouse = finished_run(
        user, "a tower by the sea", revised="A tall lighthouse standing on rocky cliffs at dusk"
    )
    foxes = finished_run(user, "Foxes running through the snow")
    other = finished_run(user, "a bowl of fruit", revised="Still life with apples")
    assert shown(signed_in, "lighthouse") == [lighthouse.pk]
    assert shown(signed_in, "LIGHTHOUSE cliff") == [lighthouse.pk]  # stemmed: cliffs
    assert shown(signed_in, "fox run") == [foxes.pk]  # stemmed: foxes, running
    assert shown(signed_in, "lighth") == [lighthouse.pk]  # a prefix, as while typing
    assert shown(signed_in, "apple") == [other.pk]
    assert shown(signed_in, "fox apple") == []  # every word must match
    # Kept in step: a changed revised prompt, a deleted run.
    Image.objects.filter(run=other).update(revised_prompt="Still life with pears")
    assert shown(signed_in, "apples") == []
    assert shown(signed_in, "pears") == [other.pk]
    Run.objects.filter(pk=foxes.pk).delete()
    assert shown(signed_in, "fox") == []


def test_best_match_first_and_pages_walk_every_match_once(signed_in, user):
    matching = set()
    for i in range(2 * GALLERY_PAGE_SIZE + 5):
        if i % 3 == 0:
            finished_run(user, f"a quiet meadow number {i}")  # no match
            continue
        words = "comet " * (1 + i % 4)
        matching.add(finished_run(user, f"{words} over a long landscape of hills {i}").pk)
    strong = finished_run(user, "comet comet comet comet comet", revised="a comet").pk
    weak = finished_run(user, "a landscape at night with a comet and many other things").pk
    matching |= {strong, weak}
    first = shown(signed_in, "comet")
    assert first.index(strong) < first.index(weak)  # best match first, not newest first
    seen, cursor, pages = [], None, 0
    while pages < 10:
        params = {"before": cursor} if cursor else {}
        html = signed_in.get("/", {"q": "comet", **params}, headers=RESULTS).content.decode()
        seen += [int(pk) for pk in RUN_ID.findall(html)]
        pages += 1
        older = OLDER.findall(html)
        if not older:
            break
        cursor = older[0]
    assert len(seen) == len(set(seen))  # none twice
    assert set(seen) == matching  # none skipped, nothing else
    assert len(matching) == 32 and pages == 2


@pytest.mark.parametrize(
    "q",
    [
        '"', '""', "'", "fox\"", "fox*", "*", "NEAR(fox snow)", "fox AND snow", "fox OR",
        "NOT fox", "-fox", "^fox", "body:fox", "run_id:1", "fox & snow | !cat", "fox:*",
        "(fox", "fox)", "{fox}", "\\", "%", "_", "renard épuisé", "狐狸", "🦊", "ß", "\u0301",
        "a" * 200, " ".join(["fox"] * 50),
    ],
)  # fmt: skip
def test_hostile_search_strings_never_fail(signed_in, user, q):
    fox = finished_run(user, "A red fox in the snow, renard épuisé 狐狸")
    response = signed_in.get("/", {"q": q})
    assert response.status_code == 200
    ids = shown(signed_in, q)
    assert ids in ([], [fox.pk])


def test_search_matches_unicode_words(signed_in, user):
    fox = finished_run(user, "Un renard épuisé dans la neige")
    assert shown(signed_in, "épuisé") == [fox.pk]
    assert shown(signed_in, "renard neige") == [fox.pk]


def test_a_search_runs_a_fixed_number_of_queries_however_deep_the_page(signed_in, user):
    for i in range(45):
        finished_run(user, f"comet {i}", revised=f"a bright comet number {i}")
    middle = Run.objects.order_by("-id")[22].pk
    signed_in.get("/")

    def count(params):
        with CaptureQueriesContext(connection) as queries:
            assert signed_in.get("/", params).status_code == 200
        return len(queries)

    plain = count({})
    assert count({"q": "comet"}) == count({"q": "comet", "before": middle}) == plain + 1
    assert count({"q": "bright comet number"}) == plain + 1
