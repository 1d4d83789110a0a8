"""Full-text search over prompts and revised prompts (SQLite FTS5 / PostgreSQL full-text):
words in revised prompts, stemming and prefixes, best match first, keyset pages with no run
shown twice or skipped, hostile strings, and the query count."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gallery.models import Image, Run
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db

RESULTS = {**htmx_headers(), "HX-Target": "gallery-results"}
RUN_ID = re.compile(r'id="run-(\d+)"')
OLDER = re.compile(r'after_rank=(\d+-\d+)" hx-trigger="revealed, click"')


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


def tiers(user, *, fillers: int = 50) -> list[int]:
    """Three tiers of matching runs made interleaved (so newest first would mix them): "comet"
    three, two and once in prompts of the same length, 15 identical prompts per tier (equal
    scores: ties). Non-matching runs keep "comet" in under half the rows, where both
    databases' relevance is meaningful. Returns the run ids in the order a search must show
    them: best tier first, newest first within a tier."""
    made = {3: [], 2: [], 1: []}
    for _ in range(15):
        for times in (1, 3, 2):
            words = ["comet"] * times + ["quiet", "hills", "under", "stars"][: 4 - times]
            made[times].append(finished_run(user, " ".join([*words, "tonight"])).pk)
    for i in range(fillers):
        finished_run(user, f"a quiet meadow with sheep number {i}")
    return [pk for times in (3, 2, 1) for pk in sorted(made[times], reverse=True)]


def walk(client, q, **params) -> tuple[list[int], int]:
    """Every run a search shows, following each page's "Older" link; and the number of pages."""
    seen, extra, pages = [], {}, 0
    while pages < 20:
        html = client.get("/", {"q": q, **params, **extra}, headers=RESULTS).content.decode()
        seen += [int(pk) for pk in RUN_ID.findall(html)]
        pages += 1
        older = OLDER.findall(html)
        if not older:
            break
        extra = {"after_rank": older[0]}
    return seen, pages


def test_pages_rank_every_match_best_first_ties_newest_first(signed_in, user):
    expected = tiers(user)
    seen, pages = walk(signed_in, "comet")
    assert pages == 3  # 20 + 20 + 5; the first page break falls inside a tier of equal scores
    assert seen == expected  # none twice, none skipped, in relevance order over all pages
    # Newest first would have interleaved the tiers: the ranking is global, not per page.
    assert seen != sorted(expected, reverse=True)


def test_best_row_of_a_run_counts_prompt_or_revised_prompt(signed_in, user):
    for i in range(12):
        finished_run(user, f"a quiet meadow with sheep number {i}")
    plain = finished_run(user, "a comet over the sea at night, long exposure")
    revised = finished_run(user, "a night sky", revised="comet comet comet")
    newer_plain = finished_run(user, "a comet over the sea at night, long exposure")
    assert shown(signed_in, "comet") == [revised.pk, newer_plain.pk, plain.pk]


def test_filters_combine_with_the_ranking(signed_in, user, other_user):
    expected = tiers(user, fillers=30)
    theirs = [finished_run(other_user, "comet comet comet quiet tonight").pk for _ in range(3)]
    starred = expected[1::4]  # some of each tier
    Image.objects.filter(run_id__in=starred).update(starred=True)
    mine, _ = walk(signed_in, "comet", who="mine")
    assert mine == expected
    everyone, _ = walk(signed_in, "comet")
    assert everyone[:3] == sorted(theirs, reverse=True)  # the newest of the best tier
    assert everyone[3:] == expected
    only_starred, pages = walk(signed_in, "comet", starred="on", who="mine")
    assert only_starred == [pk for pk in expected if pk in starred] and pages == 1
    assert walk(signed_in, "comet", who="grace")[0] == sorted(theirs, reverse=True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "comet", "after_rank": "abc"}, "not a relevance score and a run number"),
        ({"q": "comet", "after_rank": "12-0"}, "not a relevance score and a run number"),
        ({"q": "comet", "after_rank": "12-"}, "not a relevance score and a run number"),
        ({"q": "comet", "after_rank": "-12-4"}, "not a relevance score and a run number"),
        ({"q": "comet", "after_rank": "1.5-4"}, "not a relevance score and a run number"),
        ({"q": "comet", "after_rank": "9" * 30 + "-4"}, "not a relevance score and a run number"),
        ({"q": "comet", "after_rank": "4-" + "9" * 20}, "not a relevance score and a run number"),
        ({"q": "comet", "after_rank": "\u0663-4"}, "not a relevance score and a run number"),
        ({"q": "comet", "before": "12"}, "search results go by relevance"),
        ({"after_rank": "12-4"}, "it belongs to a search"),
    ],
)
def test_a_broken_or_forged_cursor_is_a_clear_400(signed_in, user, params, message):
    finished_run(user, "a comet")
    for headers in ({}, RESULTS):
        response = signed_in.get("/", params, headers=headers)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_any_well_formed_cursor_pages_from_where_it_says(signed_in, user):
    expected = tiers(user)  # tier 2 (equal scores) is expected[15:30]
    html = signed_in.get("/", {"q": "comet"}, headers=RESULTS).content.decode()
    score, run_id = OLDER.findall(html)[0].split("-")
    assert int(run_id) == expected[19]  # the last run of page 1, inside tier 2
    # Tier 2's score with an id above every run: the whole tier, then tier 1.
    assert shown(signed_in, "comet", after_rank=f"{score}-{2**62}") == expected[15:35]
    # Past the end (score 0, run 1): nothing. A score above any: from the top.
    assert shown(signed_in, "comet", after_rank="0-1") == []
    assert shown(signed_in, "comet", after_rank=f"{10**18}-1") == expected[:20]


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


def test_a_search_runs_a_fixed_number_of_queries_however_deep_the_page(
    signed_in, user, django_assert_num_queries
):
    tiers(user)
    signed_in.get("/")
    with CaptureQueriesContext(connection) as queries:
        assert signed_in.get("/").status_code == 200
        plain = len(queries)
    html = signed_in.get("/", {"q": "comet"}).content.decode()
    second = {"q": "comet", "after_rank": OLDER.findall(html)[0]}
    html = signed_in.get("/", second).content.decode()
    third = {"q": "comet", "after_rank": OLDER.findall(html)[0]}
    # The page's usual queries, the ranking instead of the newest-first one, and the runs read.
    for params in ({"q": "comet"}, second, third, {"q": "comet quiet hills"}):
        with django_assert_num_queries(plain + 1):
            assert signed_in.get("/", params).status_code == 200


def lightbox_step(client, image_id: int, rel: str, q: str) -> int | None:
    html = client.get(f"/images/{image_id}/", {"q": q}, headers=htmx_headers()).content.decode()
    found = re.search(rf'href="/images/(\d+)/[^"]*"[^>]*rel="{rel}"', html)
    return int(found[1]) if found else None


def test_the_lightbox_walks_a_search_in_its_ranked_order(signed_in, user):
    expected = tiers(user)
    run_of = dict(Image.objects.values_list("pk", "run_id"))
    first = Image.objects.get(run_id=expected[0]).pk
    forward, image_id = [run_of[first]], first
    while (image_id := lightbox_step(signed_in, image_id, "next", "comet")) is not None:
        forward.append(run_of[image_id])
    assert forward == expected  # across page breaks and ties, as the pages show them
    backward = [run_of[image_id := Image.objects.get(run_id=expected[-1]).pk]]
    while (image_id := lightbox_step(signed_in, image_id, "prev", "comet")) is not None:
        backward.append(run_of[image_id])
    assert backward == expected[::-1]


def test_select_all_takes_every_match_of_a_search(signed_in, user):
    """runs_matching (Select all, its count) reads the same matches as the ranked pages."""
    expected = tiers(user)
    finished_run(user, "a night sky", revised="one comet, seen again")
    response = signed_in.get("/selection/count/", {"q": "comet"}, headers=htmx_headers())
    assert response.status_code == 200
    assert response.json()["count"] == len(expected) + 1  # one image per run
    response = signed_in.get("/selection/count/", {"q": "comet sheep"}, headers=htmx_headers())
    assert response.json()["count"] == 0
