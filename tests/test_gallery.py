"""Gallery interactions: pages, filters, lightbox, downloads, stars, delete/undo, prompts."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from gallery.models import Image, PromptHistory, Run
from gallery.selectors import GALLERY_PAGE_SIZE
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image
from tests.storage import is_stored, stored_names

pytestmark = pytest.mark.django_db


def finished_run(user, *, prompt="a red fox in the snow", count=2, models=None, starred=False):
    run = make_run(user, prompt=prompt, count=count, models=models)
    for image in run.images.all():
        make_succeeded_image(image)
        if starred:
            Image.objects.filter(pk=image.pk).update(starred=True)
    return run


def lightbox(client, image, **params):
    return client.get(f"/images/{image.pk}/", params, headers=htmx_headers())


# --- pages and keyset pagination ------------------------------------------------------------------


def test_pages_of_20_runs_with_an_older_link_and_a_revealed_trigger(signed_in, user):
    runs = [make_run(user, prompt=f"run {i}") for i in range(45)]
    html = signed_in.get("/").content.decode()
    assert html.count("<article") == GALLERY_PAGE_SIZE
    assert f'id="run-{runs[-1].pk}"' in html and f'id="run-{runs[-20].pk}"' in html
    assert f'?before={runs[-20].pk}"' in html and 'hx-trigger="revealed, click"' in html

    # The no-JavaScript "Older" link: a whole page; over htmx: just the runs and the next link.
    second = signed_in.get("/", {"before": runs[-20].pk})
    assert second.content.decode().count("<article") == 20 and b"<html" in second.content
    more = signed_in.get(
        "/", {"before": runs[-20].pk}, headers={**htmx_headers(), "HX-Target": "gallery-more"}
    ).content.decode()
    assert "<html" not in more and more.count("<article") == 20
    assert f'id="run-{runs[-21].pk}"' in more and f'?before={runs[-40].pk}"' in more
    last = signed_in.get(
        "/", {"before": runs[-40].pk}, headers={**htmx_headers(), "HX-Target": "gallery-more"}
    ).content.decode()
    assert last.count("<article") == 5 and "gallery-more" not in last


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"before": "abc"}, "page link is broken"),
        ({"before": "-4"}, "page link is broken"),
        ({"date_from": "yesterday"}, "must be a date"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "swap the dates"),
        ({"who": "nobody-by-that-name"}, "No member is called"),
        ({"q": "x" * 201}, "at most 200"),
        ({"reuse": "abc"}, "Reuse settings"),
    ],
)
def test_a_malformed_cursor_or_filter_is_a_400_with_a_message(signed_in, params, message):
    response = signed_in.get("/", params)
    assert response.status_code == 400
    assert message in response.content.decode()
    htmx = signed_in.get("/", params, headers={**htmx_headers(), "HX-Target": "gallery-results"})
    assert htmx.status_code == 400 and htmx["Content-Type"].startswith("text/plain")
    assert message in htmx.content.decode()


def test_search_and_filters_narrow_the_gallery_and_live_in_the_url(signed_in, user, other_user):
    fox = finished_run(user, prompt="A red fox in the snow")
    cat = finished_run(other_user, prompt="A cat on a windowsill", models=["offline/mosaic"])
    starred = finished_run(user, prompt="A starry fox night", starred=True)
    Run.objects.filter(pk=fox.pk).update(created_at=timezone.now() - timedelta(days=10))

    def shown(**params):
        html = signed_in.get(
            "/", params, headers={**htmx_headers(), "HX-Target": "gallery-results"}
        ).content.decode()
        return {g.pk for g in (fox, cat, starred) if f'id="run-{g.pk}"' in html}

    assert shown() == {fox.pk, cat.pk, starred.pk}
    assert shown(q="FOX") == {fox.pk, starred.pk}
    assert shown(model="offline/mosaic") == {cat.pk}
    assert shown(starred="on") == {starred.pk}
    assert shown(who="mine") == {fox.pk, starred.pk}
    assert shown(who="grace") == {cat.pk}
    today = timezone.localdate().isoformat()
    assert shown(date_from=today) == {cat.pk, starred.pk}
    assert shown(date_to=(timezone.localdate() - timedelta(days=5)).isoformat()) == {fox.pk}
    assert shown(q="fox", starred="on") == {starred.pk}
    empty = signed_in.get("/", {"q": "zebra"}).content.decode()
    assert "No runs match" in empty
    # The page link keeps the filters (a shared URL shows the same view).
    assert 'value="zebra"' in empty


def test_made_via_api_narrows_the_gallery_to_runs_made_with_a_token(signed_in, user):
    by_hand = finished_run(user, prompt="A fox drawn in the studio")
    by_api = finished_run(user, prompt="A fox made by a script")
    Run.objects.filter(pk=by_api.pk).update(api_token_name="ci-bot")
    headers = {**htmx_headers(), "HX-Target": "gallery-results"}

    def shown(**params):
        html = signed_in.get("/", params, headers=headers).content.decode()
        return {r.pk for r in (by_hand, by_api) if f'id="run-{r.pk}"' in html}

    assert shown() == {by_hand.pk, by_api.pk}
    assert shown(via_api="on") == {by_api.pk}
    page = signed_in.get("/", {"via_api": "on"}).content.decode()
    assert 'id="filter-via-api" name="via_api" value="on" checked' in page
    assert "Made via API" in page


def test_gallery_pages_and_the_lightbox_run_a_fixed_number_of_queries(
    signed_in, user, django_assert_num_queries
):
    for i in range(45):
        finished_run(user, prompt=f"run {i}", count=4, models=["offline/aurora", "offline/mosaic"])
    first_image = Image.objects.order_by("-run_id", "column", "position").first()
    middle = Run.objects.order_by("-id")[22]
    signed_in.get("/")  # warm per-process memos

    def count(url, params=None, headers=None):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            response = signed_in.get(url, params or {}, headers=headers or {})
        assert response.status_code == 200
        return len(queries)

    first = count("/")
    deep = count("/", {"before": middle.pk})
    filtered = count("/", {"q": "run", "model": "offline/mosaic", "starred": "", "who": "mine"})
    more = count("/", {"before": middle.pk}, {**htmx_headers(), "HX-Target": "gallery-more"})
    assert first == deep  # no OFFSET: a deep page costs the same
    assert filtered == first + 1  # a search adds one: ranking the page, best match first
    assert more <= first
    # session, user, runs, their images, their edit sources, recent prompts, members (filter),
    # boards (filter), the team's policy twice (the model allowlist; are there quotas to show?)
    assert first == 10
    # session, user, the image, its neighbours (2), its lineage (2)
    assert count(f"/images/{first_image.pk}/", headers=htmx_headers()) == 7
    assert count(f"/images/{first_image.pk}/") == 7


# --- the lightbox and the permalink page ----------------------------------------------------------


def test_lightbox_walks_the_gallery_in_order_across_runs(signed_in, user):
    older = finished_run(user, prompt="older", count=2)
    newer = finished_run(user, prompt="newer", count=2, models=["offline/aurora", "offline/mosaic"])
    order = list(newer.images.order_by("column", "position")) + list(
        older.images.order_by("column", "position")
    )
    for index, image in enumerate(order):
        html = lightbox(signed_in, image).content.decode()
        assert 'class="lightbox-view"' in html and "<html" not in html
        assert f'src="/images/{image.pk}/original?v=' in html
        previous = order[index - 1] if index > 0 else None
        following = order[index + 1] if index + 1 < len(order) else None
        if previous is None:
            assert "lightbox-prev" not in html
        else:
            assert f'class="lightbox-prev" href="/images/{previous.pk}/"' in html
        if following is None:
            assert "lightbox-next" not in html
        else:
            assert f'class="lightbox-next" href="/images/{following.pk}/"' in html


def test_lightbox_walk_stays_inside_the_filters(signed_in, user):
    fox1 = finished_run(user, prompt="fox one", count=1)
    finished_run(user, prompt="cat between", count=1)
    fox2 = finished_run(user, prompt="fox two", count=1)
    html = lightbox(signed_in, fox2.images.get(), q="fox").content.decode()
    assert f'href="/images/{fox1.images.get().pk}/?q=fox"' in html


def test_lightbox_shows_the_details_and_actions(signed_in, user):
    run = finished_run(user, prompt='Quotes "and" <tags>', count=1, models=["gpt-image-2"])
    image = run.images.get()
    Image.objects.filter(pk=image.pk).update(revised_prompt="A revised take", cost="0.0123")
    html = lightbox(signed_in, image).content.decode()
    assert "Quotes &quot;and&quot; &lt;tags&gt;" in html and "<tags>" not in html
    for text in ("A revised take", "GPT Image 2", "64 × 36 px", "PNG", "1.5 s", "$0.0123",
                 "ada", "Download", "Copy prompt", "Reuse settings", "Star", "Delete"):  # fmt: skip
        assert text in html, text
    assert f'hx-get="/?reuse={run.pk}"' in html  # in the dialog, fills the form in place


def test_the_permalink_page_works_without_javascript(signed_in, user):
    run = finished_run(user, count=1)
    image = run.images.get()
    page = signed_in.get(f"/images/{image.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "<html" in html and 'class="lightbox-view"' in html
    assert (
        f'href="/?reuse={run.pk}"' in html
        and "hx-get" not in html.split("lightbox-actions")[1].split("</div>")[0]
    )


def test_unknown_pending_or_deleted_images_are_404(signed_in, user):
    run = make_run(user, count=2)
    pending, done = run.images.all()
    make_succeeded_image(done)
    assert signed_in.get(f"/images/{pending.pk}/").status_code == 404
    assert signed_in.get("/images/99999/").status_code == 404
    Image.objects.filter(pk=done.pk).update(deleted_at=timezone.now())
    assert signed_in.get(f"/images/{done.pk}/").status_code == 404
    assert signed_in.get(f"/images/{done.pk}/original").status_code == 404


def test_reuse_settings_fills_the_prompt_box(signed_in, user):
    run = make_run(user, prompt="reuse me", count=3, models=["offline/aurora", "offline/blueprint"])
    Run.objects.filter(pk=run.pk).update(
        settings={"aspect_ratio": "9:16", "resolution": "2K", "quality": "high"}
    )
    page = signed_in.get("/", {"reuse": run.pk}).content.decode()
    fragment = signed_in.get(
        "/", {"reuse": run.pk}, headers={**htmx_headers(), "HX-Target": "generate-form"}
    ).content.decode()
    for html in (page, fragment):
        assert ">reuse me</textarea>" in html
        assert 'id="compare" name="compare" value="on" checked' in html
        assert (
            'value="offline/aurora" selected' in html
            and 'value="offline/blueprint" selected' in html
        )
        assert 'value="9:16" selected' in html and 'value="2K" selected' in html
        assert 'value="high" selected' in html and '<option value="3" selected>' in html
    assert "<html" not in fragment and "<article" not in fragment
    assert signed_in.get("/", {"reuse": 99999}).status_code == 404


# --- downloads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected_start"),
    [
        ('He said "hi" / bye \\ ok', "he-said-hi-bye-ok-offline-aurora-"),
        ("Émoji 🦊 café naïve", "emoji-cafe-naive-offline-aurora-"),
        ("🦊🦊🦊", "image-offline-aurora-"),
        ("word " * 500, "word-word-"),
    ],
)
def test_downloads_are_named_safely(signed_in, user, prompt, expected_start):
    run = finished_run(user, prompt=prompt, count=1)
    image = run.images.get()
    response = signed_in.get(f"/images/{image.pk}/download/")
    disposition = response["Content-Disposition"]
    name = disposition.split('filename="')[1].rstrip('"')
    assert disposition.startswith("attachment;")
    assert name.startswith(expected_start)
    assert name.endswith(timezone.localtime(run.created_at).strftime("-%Y%m%d-%H%M%S-1.png"))
    assert len(name) < 140 and all(c.isalnum() or c in "-." for c in name)
    assert b"".join(response.streaming_content) == image.file.open("rb").read()


def test_jpeg_downloads_end_in_jpg(signed_in, user):
    run = finished_run(user, count=1)
    Image.objects.filter(run=run).update(format="jpeg")
    response = signed_in.get(f"/images/{run.images.get().pk}/download/")
    assert response["Content-Disposition"].endswith('-1.jpg"')


def test_download_all_streams_a_zip_of_the_originals(signed_in, user):
    run = finished_run(user, prompt="zip me", count=2, models=["offline/aurora", "offline/mosaic"])
    response = signed_in.get(f"/runs/{run.pk}/download/")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="zip-me-')
    chunks = list(response.streaming_content)
    assert len(chunks) > 4  # streamed piece by piece, not built whole
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    names = archive.namelist()
    assert len(names) == 4 and len(set(names)) == 4
    originals = sorted(i.file.open("rb").read() for i in run.images.all())
    assert sorted(archive.read(n) for n in names) == originals


def test_download_all_of_a_run_without_images_says_so(signed_in, user):
    run = make_run(user, count=2)
    response = signed_in.get(f"/runs/{run.pk}/download/")
    assert response.status_code == 404
    assert "nothing to download" in response.content.decode()


# --- stars ----------------------------------------------------------------------------------------


def test_star_and_unstar_from_tile_or_lightbox(signed_in, user):
    image = finished_run(user, count=1).images.get()
    response = signed_in.post(f"/images/{image.pk}/star/", {"starred": "1"}, headers=htmx_headers())
    image.refresh_from_db()
    assert response.status_code == 200 and image.starred
    assert '"starChanged"' in response["HX-Trigger"]
    signed_in.post(f"/images/{image.pk}/star/", {"starred": "0"})
    image.refresh_from_db()
    assert not image.starred
    plain = signed_in.post(f"/images/{image.pk}/star/", {"starred": "1", "next": "/?starred=on"})
    assert plain.status_code == 302 and plain["Location"] == "/?starred=on"
    evil = signed_in.post(f"/images/{image.pk}/star/", {"next": "https://evil.example/"})
    assert evil["Location"].startswith("/#image-")


# --- delete with undo, and the purge --------------------------------------------------------------


def test_deleting_an_image_hides_it_with_undo(signed_in, user):
    run = finished_run(user, count=2)
    image, other = run.images.all()
    response = signed_in.post(f"/images/{image.pk}/delete/", headers=htmx_headers())
    assert response.status_code == 200
    assert "Undo" in response.content.decode() and '"imageDeleted"' in response["HX-Trigger"]
    html = signed_in.get("/").content.decode()
    assert f'id="image-{image.pk}"' not in html and f'id="image-{other.pk}"' in html

    undo = signed_in.post(f"/images/{image.pk}/restore/", headers=htmx_headers())
    assert undo.status_code == 200 and f'id="image-{image.pk}"' in undo.content.decode()
    assert f'id="image-{image.pk}"' in signed_in.get("/").content.decode()


def test_deleting_a_run_answers_with_the_undo_toast_and_no_event(signed_in, user):
    run = finished_run(user)
    response = signed_in.post(f"/runs/{run.pk}/delete/", headers=htmx_headers())
    assert response.status_code == 200 and "Run deleted." in response.content.decode()
    assert "HX-Trigger" not in response  # the page removes the run itself (hx-swap="delete")


def test_deleting_a_run_hides_it_with_undo(signed_in, user):
    run = finished_run(user)
    response = signed_in.post(f"/runs/{run.pk}/delete/", headers=htmx_headers())
    assert "Run deleted." in response.content.decode()
    assert f'id="run-{run.pk}"' not in signed_in.get("/").content.decode()
    assert signed_in.get(f"/runs/{run.pk}/").status_code == 404
    undo = signed_in.post(f"/runs/{run.pk}/restore/", headers=htmx_headers())
    assert undo["HX-Refresh"] == "true"
    assert f'id="run-{run.pk}"' in signed_in.get("/").content.decode()


def test_purge_removes_only_what_was_deleted_long_enough_ago(user, settings):
    keep = finished_run(user, prompt="keep")
    recent = finished_run(user, prompt="recently deleted")
    old_run = finished_run(user, prompt="deleted long ago")
    old_image = keep.images.first()
    long_ago = timezone.now() - timedelta(days=settings.DELETED_RETENTION_DAYS + 1)
    Run.objects.filter(pk=recent.pk).update(deleted_at=timezone.now())
    Run.objects.filter(pk=old_run.pk).update(deleted_at=long_ago)
    Image.objects.filter(pk=old_image.pk).update(deleted_at=long_ago)
    old_files = [old_image.file.name, old_image.thumbnail.name] + [
        n for i in old_run.images.all() for n in (i.file.name, i.thumbnail.name)
    ]
    assert all(is_stored(name) for name in old_files)
    out = io.StringIO()
    call_command("purge_deleted", stdout=out)
    assert "Purged 1 run(s) and 3 image(s); deleted 6 file(s)." in out.getvalue()
    assert not Run.objects.filter(pk=old_run.pk).exists()
    assert not Image.objects.filter(pk=old_image.pk).exists()
    assert Run.objects.filter(pk=recent.pk).exists()
    assert keep.images.count() == 1
    assert not any(is_stored(name) for name in old_files)
    assert is_stored(keep.images.get().file.name)
    assert len(stored_names()) == 2 + 4  # the kept image's two files, the recent run's four


def test_members_delete_only_their_own_runs(client, user, other_user, admin_user):
    theirs = finished_run(other_user, count=1)
    client.force_login(user)
    response = client.post(f"/runs/{theirs.pk}/delete/")
    assert response.status_code == 403
    assert "Only the person who made this run" in response.content.decode()
    htmx = client.post(f"/images/{theirs.images.get().pk}/delete/", headers=htmx_headers())
    assert htmx.status_code == 403 and htmx["HX-Reswap"] == "none"
    assert not Run.objects.filter(deleted_at__isnull=False).exists()
    admin = Client()
    admin.force_login(admin_user)
    assert admin.post(f"/runs/{theirs.pk}/delete/").status_code == 302
    assert Run.objects.get(pk=theirs.pk).deleted_at is not None


# --- recent prompts and suggestions ---------------------------------------------------------------


def test_recent_prompts_keep_20_distinct_newest_first(signed_in, user):
    from gallery import services

    for i in range(25):
        services.prompt_remember(user=user, prompt=f"prompt {i}")
    services.prompt_remember(user=user, prompt="prompt 7")  # reused: moves to the top
    prompts = list(
        PromptHistory.objects.filter(user=user)
        .order_by("-used_at")
        .values_list("prompt", flat=True)
    )
    assert len(prompts) == 20 and prompts[0] == "prompt 7" and prompts[1] == "prompt 24"
    html = signed_in.get("/").content.decode()
    section = html.split('id="recent-prompts"')[1].split("</section>")[0]
    assert section.index("prompt 7") < section.index("prompt 24")


def test_a_recent_prompt_can_be_removed_and_prefills_without_javascript(signed_in, user):
    from gallery import services

    services.prompt_remember(user=user, prompt="forget me")
    entry = PromptHistory.objects.get()
    html = signed_in.get("/", {"prompt": "forget me"}).content.decode()
    assert ">forget me</textarea>" in html
    response = signed_in.post(f"/prompts/{entry.pk}/forget/", headers=htmx_headers())
    assert "forget me" not in response.content.decode()
    assert not PromptHistory.objects.exists()


def test_use_prompt_generates_with_the_prompt_box_settings(signed_in):
    response = signed_in.post(
        "/generate/",
        {"use_prompt": "A whale in the clouds", "prompt": "", "model": ["offline/mosaic"],
         "size": "1280x720", "count": "2"},
        headers=htmx_headers(),
    )  # fmt: skip
    assert response.status_code == 200
    run = Run.objects.get()
    assert run.prompt == "A whale in the clouds" and run.count == 2
    assert run.images.first().request == {"size": "1280x720"}


def test_suggestions_show_on_an_empty_gallery_and_on_demand(signed_in, user):
    html = signed_in.get("/").content.decode()
    section = html.split('id="suggestions"')[1].split("</section>")[0]
    assert section.count('name="use_prompt"') == 6
    finished_run(user)
    html = signed_in.get("/").content.decode()
    section = html.split('id="suggestions"')[1].split("</section>")[0]
    assert 'name="use_prompt"' not in section and "Show ideas" in section
    more = signed_in.get("/suggestions/", headers=htmx_headers()).content.decode()
    assert more.count('name="use_prompt"') == 6


def test_the_curated_list_has_at_least_30_distinct_prompts():
    from gallery.suggestions import SUGGESTIONS, pick_suggestions

    assert len(set(SUGGESTIONS)) == len(SUGGESTIONS) >= 30
    assert len(set(pick_suggestions())) == 6


def test_offline_images_say_they_were_free(signed_in, user):
    image = finished_run(user, count=1).images.get()
    html = lightbox(signed_in, image).content.decode()
    assert "Free (offline renderer)" in html and "Aurora (offline)" in html
