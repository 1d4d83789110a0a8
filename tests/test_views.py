"""The studio's views: plain and htmx requests, bad input, sign-in, image files."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from gallery import selectors
from gallery.forms import MAX_PROMPT_LENGTH
from gallery.models import Image, PromptHistory, Run
from gallery.presenters import RunView
from team.models import TeamPolicy
from tests.conftest import htmx_headers
from tests.factories import listed_models, make_run, make_succeeded_image

pytestmark = pytest.mark.django_db

GENERATE = "/generate/"


def generate_data(**overrides):
    data = {
        "prompt": "a lighthouse on a cliff at dawn",
        "model": ["offline/aurora"],
        "aspect_ratio": "16:9",
        "resolution": "1K",
        "count": "2",
        "action": "generate",
    }
    data.update(overrides)
    return data


# --- sign-in and first run ------------------------------------------------------------------------


def test_a_fresh_install_leads_to_the_one_time_admin_setup(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/setup/"
    page = client.get("/setup/")
    assert b"Create the admin account" in page.content

    response = client.post(
        "/setup/",
        {
            "username": "boss",
            "email": "",
            "password1": "correct-horse-9",
            "password2": "correct-horse-9",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    admin = get_user_model().objects.get()
    assert admin.username == "boss" and admin.is_superuser and admin.is_staff
    assert client.get("/").status_code == 200  # signed in straight away
    assert client.get("/setup/").status_code == 404  # gone for good
    assert Client().get("/setup/").status_code == 404


def test_setup_rejects_a_weak_password_and_creates_nothing(client):
    response = client.post("/setup/", {"username": "boss", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert b"too short" in response.content
    assert not get_user_model().objects.exists()


def test_htmx_requests_on_a_fresh_install_are_sent_to_setup(client):
    response = client.get("/controls/", headers=htmx_headers())
    assert response["HX-Redirect"] == "/setup/"


@pytest.mark.parametrize(
    "url",
    ["/", "/controls/", "/runs/1/", "/runs/1/progress/?pending=1", "/images/1/thumbnail.webp",
     "/images/1/original", "/images/1/download/"],
)  # fmt: skip
def test_every_page_fragment_and_file_needs_sign_in(client, user, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    htmx = client.get(url, headers=htmx_headers("/?q=fox"))
    # Back to the page the fragment was on after signing in, not to the fragment.
    assert htmx["HX-Redirect"] == "/accounts/login/?next=%2F"
    assert b"<img" not in htmx.content


def test_posts_need_sign_in_and_write_nothing(client, user):
    response = client.post(GENERATE, generate_data())
    assert response.status_code == 302
    assert not Run.objects.exists()


def test_sign_in_page_signs_in(client, user):
    response = client.post(
        "/accounts/login/", {"username": "ada", "password": "a-long-passphrase-1"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


# --- the studio page ------------------------------------------------------------------------------


def test_studio_page_offers_the_offline_renderer_without_a_key(signed_in):
    response = signed_in.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-label="Gallery"' in html
    assert '<label for="prompt"' in html and ">Prompt<" in html
    assert ">Model</label>" in html and 'value="offline/aurora" selected' in html
    assert "Aurora (offline)" in html and "Offline renderer." in html
    for label in ("Compare", "Aspect ratio", "Resolution", "Images"):
        assert f">{label}</label>" in html
    assert ">Size</label>" not in html  # aurora takes ratios, not pixel sizes
    assert "Generate" in html


def test_the_page_carries_a_csp_nonce_on_every_script(signed_in):
    response = signed_in.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    html = response.content.decode()
    assert html.count("<script") == html.count(f'nonce="{nonce}"') >= 2


def test_the_gateway_key_never_reaches_the_browser(signed_in, user, fake_gateway, settings):
    fake_gateway.api_key = settings.LLM_GATEWAY_API_KEY = "sk-super-secret-key-123"
    run = make_run(user)
    pages = [
        signed_in.get("/"),
        signed_in.get("/controls/", {"model": "gpt-image-2"}),
        signed_in.get(f"/runs/{run.pk}/"),
        signed_in.get(f"/runs/{run.pk}/", headers=htmx_headers()),
        signed_in.post(
            GENERATE, generate_data(model=["gpt-image-2"], aspect_ratio="", resolution="")
        ),
    ]
    for response in pages:
        assert b"sk-super-secret-key-123" not in response.content
        assert "sk-super-secret-key-123" not in str(response.headers)


# --- starting a run -------------------------------------------------------------------------------


def test_plain_post_starts_a_run_and_redirects(signed_in, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(GENERATE, generate_data())
    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/#run-{run.pk}"
    assert run.created_by == user
    assert run.prompt == "a lighthouse on a cliff at dawn"
    assert run.model_ids == ["offline/aurora"] and run.count == 2
    images = list(run.images.all())
    assert [(i.column, i.position, i.status) for i in images] == [
        (0, 0, "queued"),
        (0, 1, "queued"),
    ]
    assert images[0].request == {"aspect_ratio": "16:9", "image_size": "1K"}
    assert images[0].expected_width > images[0].expected_height
    task = DBTaskResult.objects.get()
    assert task.task_path == "gallery.tasks.make_run_images"
    assert task.args_kwargs["args"] == [run.pk]
    assert PromptHistory.objects.get(user=user).prompt == run.prompt


def test_htmx_post_returns_the_new_run_with_placeholder_tiles(signed_in):
    response = signed_in.post(
        GENERATE,
        generate_data(
            compare="on", model=["offline/aurora", "offline/mosaic", "offline/blueprint"]
        ),
        headers=htmx_headers(),
    )
    html = response.content.decode()
    run = Run.objects.get()
    assert response.status_code == 200
    assert html.count("<article") == 1 and f'id="run-{run.pk}"' in html
    assert html.count('class="tile is-queued"') == 6
    # One labelled column per model, each tile shaped like the image it waits for.
    for label in ("Aurora (offline)", "Mosaic (offline)", "Blueprint (offline)"):
        assert f'aria-label="{label}"' in html
    assert 'viewBox="0 0 1360 768"' in html  # aurora at 16:9, 1K
    assert 'viewBox="0 0 1280 720"' in html  # mosaic: nearest pixel size to 16:9
    assert f"/runs/{run.pk}/progress/?pending=" in html and 'hx-trigger="every 1s"' in html
    assert 'id="recent-prompts"' in html and 'hx-swap-oob="true"' in html
    assert Image.objects.filter(run=run).count() == 6


def test_compare_records_what_each_model_was_actually_asked(signed_in, fake_gateway):
    signed_in.post(
        GENERATE,
        generate_data(
            compare="on",
            model=["gemini-3.1-flash-image-preview", "gpt-image-2"],
            aspect_ratio="16:9",
            resolution="4K",
            quality="high",
            count="1",
        ),
    )
    gemini, gpt = Image.objects.order_by("column")
    assert gemini.request == {"aspect_ratio": "16:9", "image_size": "4K"}
    assert gpt.request == {"size": "3840x2160", "quality": "high"}
    assert Run.objects.get().settings["quality"] == "high"


BAD_INPUT = [
    ({"prompt": ""}, "Write a prompt first"),
    ({"prompt": "   "}, "Write a prompt first"),
    ({"prompt": "x" * (MAX_PROMPT_LENGTH + 1)}, "the limit is 4,000"),
    ({"model": ["no-such-model"]}, "is not a model this studio offers"),
    ({"model": []}, "Pick a model"),
    ({"compare": "on", "model": ["offline/aurora", "offline/mosaic", "offline/blueprint", "offline/aurora"]}, "at most 3 models"),
    ({"compare": "on", "model": ["offline/aurora", "offline/aurora"]}, "Pick different models"),
    ({"count": "0"}, "Images must be from 1 to 4"),
    ({"count": "5"}, "Images must be from 1 to 4"),
    ({"count": "many"}, "Images must be a whole number"),
    ({"aspect_ratio": "7:3"}, "Aspect ratio 7:3 is not offered by Aurora (offline)"),
    ({"resolution": "8K"}, "Resolution 8K is not offered"),
    ({"model": ["offline/mosaic"], "size": "999x999", "aspect_ratio": ""}, "Size 999x999 is not offered"),
    ({"model": ["offline/blueprint"], "quality": "ultra"}, "Quality ultra is not offered"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUT)
def test_bad_input_comes_back_with_a_message_and_writes_nothing(signed_in, overrides, message):
    response = signed_in.post(GENERATE, generate_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="generate-form"' in response.content.decode()
    assert not Run.objects.exists() and not Image.objects.exists()
    assert not PromptHistory.objects.exists() and not DBTaskResult.objects.exists()


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUT[:4])
def test_bad_input_over_htmx_swaps_the_form_in_place(signed_in, overrides, message):
    response = signed_in.post(GENERATE, generate_data(**overrides), headers=htmx_headers())
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#generate-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert message in response.content.decode()
    assert "<article" not in response.content.decode()
    assert not Run.objects.exists()


def test_the_form_keeps_what_was_typed_after_an_error(signed_in):
    response = signed_in.post(GENERATE, generate_data(count="9", prompt="keep me"))
    assert ">keep me</textarea>" in response.content.decode()


def test_a_missing_csrf_token_gives_a_clear_message_and_writes_nothing(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(GENERATE, generate_data(prompt="lost prompt"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "could not be verified" in html
    assert ">lost prompt</textarea>" in html  # the prompt is not lost
    htmx = client.post(GENERATE, generate_data(), headers=htmx_headers())
    assert htmx.status_code == 403 and "could not be verified" in htmx.content.decode()
    assert not Run.objects.exists()


def test_an_edit_only_model_cannot_generate(signed_in, fake_gateway):
    # Every edit-only model is deactivated now: one the gateway still lists is offered.
    fake_gateway.models = listed_models("alibaba/qwen-image-edit-plus", "gpt-image-2")
    response = signed_in.post(
        GENERATE,
        generate_data(model=["alibaba/qwen-image-edit-plus"], aspect_ratio="", resolution=""),
    )
    assert response.status_code == 400
    assert "only edits images" in response.content.decode()


# --- controls follow the models -------------------------------------------------------------------


def test_controls_follow_the_selected_model(signed_in, fake_gateway):
    html = signed_in.get(
        "/controls/", {"model": "gpt-image-2"}, headers=htmx_headers()
    ).content.decode()
    assert ">Size</label>" in html and ">Quality</label>" in html
    assert ">Aspect ratio</label>" not in html and ">Resolution</label>" not in html
    assert 'value="low" selected' in html  # the model's default quality

    html = signed_in.get(
        "/controls/", {"model": "gemini-3.1-flash-image-preview", "aspect_ratio": "21:9"}
    ).content.decode()
    assert ">Aspect ratio</label>" in html and ">Resolution</label>" in html
    assert 'value="21:9" selected' in html  # a still-valid choice is kept
    assert ">Size</label>" not in html and ">Quality</label>" not in html


def test_turning_compare_on_offers_a_second_model_picker(signed_in):
    html = signed_in.get(
        "/controls/", {"model": "offline/aurora", "compare": "on", "compare_toggled": "1"}
    ).content.decode()
    assert ">Model 1</label>" in html and ">Model 2</label>" in html
    assert "+ Add model" in html
    assert 'aria-label="Remove model 2"' in html

    three = signed_in.get(
        "/controls/",
        {"model": ["offline/aurora", "offline/mosaic"], "compare": "on", "action": "add_model"},
    ).content.decode()
    assert ">Model 3</label>" in three and "+ Add model" not in three

    removed = signed_in.get(
        "/controls/",
        {"model": ["offline/aurora", "offline/mosaic", "offline/blueprint"], "compare": "on",
         "action": "remove_model:0"},
    ).content.decode()  # fmt: skip
    assert ">Model 3</label>" not in removed
    assert 'id="model-0"' in removed and 'value="offline/mosaic" selected' in removed


def test_add_model_works_without_javascript(signed_in):
    response = signed_in.post(
        GENERATE, generate_data(compare="on", model=["offline/aurora"], action="add_model")
    )
    assert response.status_code == 200
    assert ">Model 2</label>" in response.content.decode()
    assert not Run.objects.exists()


def test_remove_model_works_without_javascript(signed_in):
    three = ["offline/aurora", "offline/mosaic", "offline/blueprint"]
    response = signed_in.post(
        GENERATE, generate_data(compare="on", model=three, action="remove_model:1")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert ">Model 2</label>" in html and ">Model 3</label>" not in html
    first = html[html.index('id="model-0"') : html.index('id="model-1"')]
    second = html[html.index('id="model-1"') : html.index("</select>", html.index('id="model-1"'))]
    assert 'value="offline/aurora" selected' in first
    assert 'value="offline/blueprint" selected' in second
    assert not Run.objects.exists()


# --- progress, retry, files -----------------------------------------------------------------------


def test_progress_swaps_in_finished_tiles_and_stops_when_done(signed_in, user):
    run = make_run(user, count=2)
    first, second = run.images.all()
    make_succeeded_image(first)
    url = f"/runs/{run.pk}/progress/?pending={first.pk},{second.pk}"

    html = signed_in.get(url, headers=htmx_headers()).content.decode()
    assert f'<figure id="image-{first.pk}" class="tile is-succeeded" hx-swap-oob="true">' in html
    assert f'alt="{run.prompt}"' in html
    assert f'?pending={second.pk}"' in html  # the poller now waits only for the second
    assert "1 of 2 ready" in html

    make_succeeded_image(second)
    html = signed_in.get(f"/runs/{run.pk}/progress/?pending={second.pk}").content.decode()
    assert "hx-trigger" not in html  # no poller left: polling stops
    assert "2 of 2 ready" in html


def test_a_run_finishing_on_an_open_page_gets_its_buttons_without_a_reload(signed_in, user):
    """Download all, Compare and Share link come with the first finished image (out of band, as
    Cancel goes), not only on the next page load."""
    run = make_run(user, models=["offline/aurora", "offline/mono"], count=1)
    first, second = run.images.all()
    html = signed_in.get(f"/runs/{run.pk}/").content.decode()
    assert f"/runs/{run.pk}/download/" not in html and f"/shares/new/?run={run.pk}" not in html
    assert "Cancel this run" in html

    make_succeeded_image(first)
    url = f"/runs/{run.pk}/progress/?pending={first.pk},{second.pk}"
    html = signed_in.get(url, headers=htmx_headers()).content.decode()
    actions = html[html.index(f'<div id="run-{run.pk}-actions"') :]
    assert 'hx-swap-oob="true"' in actions[:120]
    assert f"/runs/{run.pk}/download/" in actions and f"/shares/new/?run={run.pk}" in actions
    assert "Cancel this run" in actions  # the second is still pending

    make_succeeded_image(second)
    html = signed_in.get(url, headers=htmx_headers()).content.decode()
    actions = html[html.index(f'<div id="run-{run.pk}-actions"') :]
    assert f"/compare/?images={first.pk},{second.pk}" in actions  # two models, both ready
    assert "Cancel this run" not in actions


def test_updates_redraw_the_runs_buttons_only_when_they_change(signed_in, user):
    """A redraw of the buttons loses the keyboard's place in them: the poller's answers carry
    them with a column's first finished image and once nothing is pending, not in between."""
    run = make_run(user, count=3)
    first, second, third = run.images.all()
    url = f"/runs/{run.pk}/progress/?pending={first.pk},{second.pk},{third.pk}"

    def answer() -> str:
        return signed_in.get(url, headers=htmx_headers()).content.decode()

    assert f'id="run-{run.pk}-actions"' not in answer()  # nothing new
    make_succeeded_image(first)
    assert f'id="run-{run.pk}-actions"' in answer()  # Download all, Share link appear
    url = f"/runs/{run.pk}/progress/?pending={second.pk},{third.pk}"
    make_succeeded_image(second)
    assert f'id="run-{run.pk}-actions"' not in answer()  # the same buttons: left alone
    make_succeeded_image(third)
    assert f'id="run-{run.pk}-actions"' in answer()  # Cancel goes


def test_a_first_page_of_emptied_runs_is_not_an_empty_studio(signed_in, user):
    """Runs whose images were all deleted are left off the page; when a whole first page is
    such runs, the page says neither "Nothing here yet" nor "No runs match", and its Older link
    brings the older runs."""
    older = make_run(user, prompt="an older lighthouse")
    make_succeeded_image(older.images.get())
    for n in range(20):
        image = make_succeeded_image(make_run(user, prompt=f"emptied {n}").images.get())
        Image.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    pages = [
        signed_in.get("/", query).content.decode() for query in ({}, {"model": "offline/aurora"})
    ]
    for page in pages:
        assert "emptied" not in page and "Nothing here yet" not in page
        assert "No runs match" not in page and 'id="gallery-more"' in page
    more = re.search(r'hx-get="/\?before=(\d+)"', pages[0])
    older_page = signed_in.get("/", {"before": more[1]}).content.decode()
    assert "an older lighthouse" in older_page


def test_progress_rejects_a_malformed_pending_list(signed_in, user):
    run = make_run(user)
    response = signed_in.get(f"/runs/{run.pk}/progress/?pending=1,abc")
    assert response.status_code == 400


def test_progress_shows_tiles_the_reaper_interrupted_and_reaps_nothing_itself(
    signed_in, user, settings
):
    run = make_run(user, count=1)
    image = run.images.get()
    Image.objects.filter(pk=image.pk).update(status="running")
    stale = timezone.now() - timedelta(seconds=settings.WORKER_STALE_SECONDS + 1)
    Run.objects.filter(pk=run.pk).update(heartbeat_at=stale)
    url = f"/runs/{run.pk}/progress/?pending={image.pk}"

    signed_in.get(url)
    image.refresh_from_db()
    assert image.status == "running"  # reading writes nothing: the worker and cron reap

    call_command("reap_stale", stdout=io.StringIO())
    html = signed_in.get(url).content.decode()
    image.refresh_from_db()
    assert image.status == "interrupted"
    assert "Interrupted" in html and "Retry" in html


def test_retry_queues_a_failed_tile_again(signed_in, user, django_capture_on_commit_callbacks):
    run = make_run(user, count=2)
    failed = run.images.first()
    Image.objects.filter(pk=failed.pk).update(status="failed", error="The provider failed (502).")
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(f"/images/{failed.pk}/retry/", headers=htmx_headers())
    failed.refresh_from_db()
    assert response.status_code == 200
    assert failed.status == "queued" and failed.error == ""
    assert DBTaskResult.objects.get().args_kwargs["args"] == [run.pk, [failed.pk]]
    assert f'id="run-{run.pk}"' in response.content.decode()


def test_retry_of_a_tile_that_is_not_failed_changes_nothing(signed_in, user):
    run = make_run(user)
    image = run.images.get()
    response = signed_in.post(f"/images/{image.pk}/retry/")
    assert response.status_code == 302
    assert not DBTaskResult.objects.exists()


def test_image_files_are_served_with_long_cache_headers(signed_in, user):
    run = make_run(user)
    image = make_succeeded_image(run.images.get())

    thumb = signed_in.get(f"/images/{image.pk}/thumbnail.webp")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    assert "immutable" in thumb["Cache-Control"]
    assert b"".join(thumb.streaming_content)[:4] == b"RIFF"

    original = signed_in.get(f"/images/{image.pk}/original")
    assert b"".join(original.streaming_content) == image.file.open("rb").read()

    download = signed_in.get(f"/images/{image.pk}/download/")
    assert download["Content-Disposition"].startswith("attachment;")
    assert 'filename="a-red-fox-in-the-snow-offline-aurora-' in download["Content-Disposition"]


def test_files_of_pending_or_unknown_images_are_404(signed_in, user):
    run = make_run(user)
    pending = run.images.get()
    assert signed_in.get(f"/images/{pending.pk}/original").status_code == 404
    assert signed_in.get("/images/999999/thumbnail.webp").status_code == 404
    assert signed_in.get("/runs/999999/").status_code == 404


@pytest.mark.parametrize("url", ["/images/999999/", "/no-such-page/", "/team/"])
def test_not_found_is_the_studios_own_page_with_a_way_back(signed_in, url):
    response = signed_in.get(url)
    assert response.status_code == 404
    html = response.content.decode()
    # A whole page of the studio (a main landmark, a heading, the account menu), not Django's.
    assert '<main id="main"' in html and "<h1>Not found</h1>" in html
    assert 'aria-label="Account"' in html and 'href="/">Back to the studio</a>' in html
    assert "There is nothing at this address." in html
    assert "No such" not in html  # the exception's text is for logs, not people
    htmx = signed_in.get(url, headers=htmx_headers())
    assert htmx.status_code == 404 and htmx["Content-Type"].startswith("text/plain")
    assert htmx.content.decode().startswith("There is nothing at this address.")


def test_a_run_has_a_page_that_works_without_javascript(signed_in, user):
    run = make_run(user)
    response = signed_in.get(f"/runs/{run.pk}/")
    assert response.status_code == 200
    assert b"<html" in response.content and b"<article" in response.content
    fragment = signed_in.get(f"/runs/{run.pk}/", headers=htmx_headers())
    assert b"<html" not in fragment.content and b"<article" in fragment.content


# --- the run component (templates/gallery/run.html) ----------------------------------------------


def _article(html: str, pk: int) -> str:
    """The run's <article> in a page, without what differs between any two responses (CSRF
    tokens, the page a star button returns to, whitespace)."""
    start = html.index(f'<article id="run-{pk}"')
    article = html[start : html.index("</article>", start) + len("</article>")]
    article = re.sub(r'name="(csrfmiddlewaretoken|next)" value="[^"]*"', r'name="\1"', article)
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", article))


def test_each_partial_of_the_run_renders_alone_with_the_id_it_is_swapped_by(rf, user):
    run = make_run(user, count=2)
    done = run.images.first()  # the other stays pending: the run has a poller
    make_succeeded_image(done)
    view = RunView(selectors.run_for_display(run_id=run.pk, viewer=user), viewer=user)
    request = rf.get("/")
    request.user = user

    def draw(name: str, **extra) -> str:
        return render_to_string(f"gallery/run.html{name}", {"run": view, **extra}, request=request)

    pk = run.pk
    assert draw("").lstrip().startswith(f'<article id="run-{pk}" class="run"')
    assert _article(draw("#run"), pk) == _article(draw(""), pk)
    assert draw("#run_status").strip().startswith(f'<p id="run-{pk}-status" class="run-status"')
    assert (
        draw("#image", image=done)
        .strip()
        .startswith(f'<figure id="image-{done.pk}" class="tile is-succeeded">')
    )
    assert draw("#poller").strip().startswith(f'<div id="run-{pk}-poller" class="poller"')
    # The poller's answer: the poller swaps itself; the images and the status come out of band.
    progress = draw("#progress", images=[done], actions_change=True)
    assert f'<div id="run-{pk}-poller" class="poller" hidden' in progress
    assert f'<figure id="image-{done.pk}" class="tile is-succeeded" hx-swap-oob="true">' in progress
    assert (
        f'id="run-{pk}-status" class="run-status" aria-live="polite" hx-swap-oob="true"' in progress
    )
    # And the run's buttons: Cancel gone once nothing is pending, Download all once one is ready.
    assert f'<div id="run-{pk}-actions" class="run-actions" hx-swap-oob="true">' in progress
    assert progress.count("hx-swap-oob") == 3
    # The whole run out of band marks the article alone: htmx would swap marked parts on their own.
    whole = draw("#run_oob")
    assert (
        f'<article id="run-{pk}" class="run" aria-labelledby="run-{pk}-prompt" hx-swap-oob="true">'
        in whole
    )
    assert whole.count("hx-swap-oob") == 1


def test_the_gallery_the_run_page_and_its_fragment_draw_the_same_run(signed_in, user):
    run = make_run(user, count=2, models=["offline/aurora", "offline/mosaic"])
    make_succeeded_image(run.images.first())
    pk = run.pk
    in_gallery = _article(signed_in.get("/").content.decode(), pk)
    fragment = signed_in.get(f"/runs/{pk}/", headers=htmx_headers()).content.decode()
    assert _article(fragment, pk) == in_gallery
    assert _article(signed_in.get(f"/runs/{pk}/").content.decode(), pk) == in_gallery


def test_a_link_with_a_prompt_fills_the_box_up_to_the_forms_limit(signed_in):
    html = signed_in.get("/", {"prompt": "x" * (MAX_PROMPT_LENGTH + 50)}).content.decode()
    assert f">{'x' * MAX_PROMPT_LENGTH}</textarea>" in html


# --- the gallery ----------------------------------------------------------------------------------


def test_gallery_is_newest_first_with_author_and_settings(signed_in, user, other_user):
    older = make_run(user, prompt="older prompt")
    newer = make_run(other_user, prompt="newer prompt")
    html = signed_in.get("/").content.decode()
    assert html.index(f'id="run-{newer.pk}"') < html.index(f'id="run-{older.pk}"')
    assert "grace" in html and "ada" in html
    assert '<span class="chip">16:9</span>' in html


def test_gallery_query_count_does_not_grow_with_runs_or_images(
    signed_in, user, django_assert_max_num_queries
):
    for _ in range(3):
        make_run(user, count=1)
    signed_in.get("/")  # warm per-process memos (does any account exist yet?)
    with django_assert_max_num_queries(10) as few:  # 9, and the Board filter's boards
        signed_in.get("/")
    for _ in range(20):
        run = make_run(
            user, count=4, models=["offline/aurora", "offline/mosaic", "offline/blueprint"]
        )
        for image in run.images.all()[:6]:
            make_succeeded_image(image)
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        response = signed_in.get("/")
    assert response.content.decode().count("<article") == 20
    assert len(many.captured_queries) == len(few.captured_queries)


def test_choosing_a_model_another_picker_shows_moves_that_picker_on(signed_in):
    """Model 1 changed to what Model 2 showed: Model 2 moves to an unused model, none vanish."""
    html = signed_in.get(
        "/controls/",
        {"model": ["offline/mosaic", "offline/mosaic"], "compare": "on"},
        headers={**htmx_headers(), "HX-Trigger": "model-0"},
    ).content.decode()
    assert ">Model 2</label>" in html
    first = html[html.index('id="model-0"') : html.index('id="model-1"')]
    second = html[html.index('id="model-1"') :]
    assert 'value="offline/mosaic" selected' in first
    assert 'value="offline/aurora" selected' in second


@pytest.mark.parametrize("link", ["reuse", "edit"])
def test_a_link_that_fills_the_prompt_box_keeps_the_quota_line(signed_in, user, link):
    """“Reuse settings” and “Edit” redraw the box in place (htmx) or open the page with it: the
    estimate line says what the limits leave either way, not only the price."""
    TeamPolicy.objects.update_or_create(
        pk=1, defaults={"daily_image_limit": 10, "monthly_budget_usd": "5"}
    )
    run = make_run(user, models=["offline/aurora"], count=2)
    image = make_succeeded_image(run.images.first())
    value = run.pk if link == "reuse" else image.pk
    page = signed_in.get("/", {link: value})
    fragment = signed_in.get(
        "/", {link: value}, headers={**htmx_headers(), "HX-Target": "generate-form"}
    )
    for response in (page, fragment):
        assert response.status_code == 200
        line = response.content.decode().split('id="estimate"')[1].split("</p>")[0]
        assert "Free (offline)" in line
        assert "8 of 10 images left today" in line  # the run's two tiles count
        assert "$5.00 of $5.00 left this month" in line
