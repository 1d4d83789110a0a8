"""Edits: attaching images (checked and cleaned before anything is stored or sent), choosing
models that take them, what arrives at the gateway (JSON and multipart), and lineage."""

import base64
import io
import random
import struct
import zlib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image as PILImage

from gallery import edits, memory, runner
from gallery.models import EditSource, Image, Run, Upload
from gallery.tasks import fetch_upload
from tests.conftest import htmx_headers
from tests.factories import (
    jpeg_bytes,
    listed_models,
    make_run,
    make_succeeded_image,
    png_bytes,
    wide_gamut_profile,
    zeros_png,
)
from tests.storage import stored_names

pytestmark = pytest.mark.django_db


def jpeg_with_gps_and_rotation(width=60, height=40) -> bytes:
    """A JPEG stored sideways (EXIF orientation 6) that carries a GPS position."""
    image = PILImage.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 2, height))  # left half blue, to see the rotation
    exif = PILImage.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def upload(client, data: bytes, name="photo.png"):
    return client.post(
        "/uploads/", {"image": SimpleUploadedFile(name, data)}, headers=htmx_headers()
    )


# --- attaching images -----------------------------------------------------------------------------


def test_an_uploaded_image_is_stored_clean_and_returned_as_a_chip(signed_in, user):
    response = upload(signed_in, jpeg_with_gps_and_rotation(), "holiday.jpg")
    assert response.status_code == 200
    stored = Upload.objects.get()
    html = response.content.decode()
    assert f'name="source" value="upload:{stored.pk}"' in html
    assert f'src="/uploads/{stored.pk}/thumbnail.webp"' in html
    assert stored.created_by == user and stored.original_name == "holiday.jpg"
    with PILImage.open(stored.file.open("rb")) as clean:
        assert clean.size == (40, 60)  # turned upright (orientation applied)
        assert (stored.width, stored.height) == (40, 60)
        exif = clean.getexif()
        assert 0x8825 not in exif and 0x0112 not in exif  # no location, no orientation left
        assert "exif" not in clean.info
    assert b"GPS" not in stored.file.open("rb").read()
    thumb = signed_in.get(f"/uploads/{stored.pk}/thumbnail.webp")
    assert thumb.status_code == 200 and b"".join(thumb.streaming_content)[:4] == b"RIFF"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"just some text, not a picture", "notes.png", "not an image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', "logo.png", "SVG"),
        (png_bytes(200, 200)[:-30], "cut.png", "damaged"),
        (png_declaring(9000, 9000), "huge.png", "50"),
        (png_declaring(40000, 40000), "bomb.png", "50"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (21 * 1024 * 1024), "big.png", "20 MB"),
    ],
    ids=["text", "svg", "truncated", "over-50-megapixels", "bomb", "over-20-MB"],
)
def test_bad_files_are_refused_before_anything_is_stored(signed_in, data, name, message):
    response = upload(signed_in, data, name)
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    assert not Upload.objects.exists()


@pytest.mark.parametrize("htmx", [True, False])
def test_a_bomb_under_the_pixel_cap_is_refused_with_a_clear_message(signed_in, settings, htmx):
    bomb = zeros_png()  # 190 KB, 7000x7000 RGBA: under the 50 megapixel cap, 196 MB to open
    response = signed_in.post(
        "/uploads/",
        {"image": SimpleUploadedFile("innocent.png", bomb)},
        headers=htmx_headers() if htmx else {},
    )
    assert response.status_code == 400
    assert (
        "This image would take 196 MB of memory to open but is only 0.2 MB: it looks like a "
        "decompression bomb, so it was refused."
    ) in response.content.decode()
    assert not Upload.objects.exists()
    assert stored_names() == []


def test_an_upload_is_refused_as_busy_when_memory_stays_taken(signed_in, settings):
    settings.IMAGE_DECODE_BUDGET_MB = 10
    settings.IMAGE_DECODE_WAIT_SECONDS = 0.2
    budget = memory.decode_budget()
    with budget.reserve(budget.capacity, wait=0):  # as if other big images were being opened
        response = upload(signed_in, png_bytes(64, 48))
    assert response.status_code == 400
    assert "The studio is busy opening other large images" in response.content.decode()
    assert not Upload.objects.exists()
    assert stored_names() == []
    assert upload(signed_in, png_bytes(64, 48)).status_code == 200  # and fine once it is free


def test_an_oversized_icc_profile_is_not_stored_and_thumbnails_carry_none(signed_in):
    junk = random.Random(8).randbytes(7_600_000)  # a made-up 7.6 MB "profile"
    response = upload(signed_in, jpeg_bytes(16, 16, icc_profile=junk), "tiny.jpg")
    assert response.status_code == 200
    stored = Upload.objects.get()
    data = stored.file.open("rb").read()
    assert stored.bytes == len(data) < 10_000
    with PILImage.open(io.BytesIO(data)) as clean:
        assert "icc_profile" not in clean.info
    thumb = b"".join(signed_in.get(f"/uploads/{stored.pk}/thumbnail.webp").streaming_content)
    assert len(thumb) < 1_000
    with PILImage.open(io.BytesIO(thumb)) as small:
        assert "icc_profile" not in small.info


def test_a_real_icc_profile_is_kept_on_the_upload_but_not_the_thumbnail(signed_in):
    icc = wide_gamut_profile()
    response = upload(signed_in, jpeg_bytes(64, 64, (60, 180, 90), icc_profile=icc), "wide.jpg")
    assert response.status_code == 200
    stored = Upload.objects.get()
    with PILImage.open(stored.file.open("rb")) as clean:
        assert clean.info["icc_profile"] == icc
    with PILImage.open(stored.thumbnail.open("rb")) as small:
        assert "icc_profile" not in small.info
        red, green, _ = small.convert("RGB").getpixel((32, 32))
        assert red < 20 and green > 170  # converted to sRGB: (60, 180, 90) there is (0, 181, 83)


def test_an_attach_request_too_large_to_read_is_refused_unread(signed_in):
    too_large = edits.MAX_UPLOAD_REQUEST_BYTES + 1
    response = signed_in.post(
        "/uploads/",
        {"image": SimpleUploadedFile("a.png", png_bytes())},
        headers=htmx_headers(),
        CONTENT_LENGTH=str(too_large),
    )
    assert response.status_code == 400
    assert f"attach images up to {edits.MAX_UPLOAD_MB} MB each" in response.content.decode()
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/cat.png", "https"),
        ("https://127.0.0.1/cat.png", "private"),
        ("https://10.1.2.3/cat.png", "private"),
        ("https://[::1]/cat.png", "private"),
        ("not a link", "https"),
    ],
)
def test_links_to_private_addresses_or_without_https_are_refused(signed_in, url, message):
    response = signed_in.post("/uploads/", {"url": url}, headers=htmx_headers())
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Upload.objects.exists()


def test_an_https_link_is_fetched_and_cleaned(
    signed_in, fake_gateway, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE = True  # the test's HTTPS host is on loopback
    settings.GATEWAY_URL_FETCH_CA_FILE = fake_gateway.write_ca_pem(tmp_path / "ca.pem")
    url = fake_gateway.https_url_for(jpeg_with_gps_and_rotation(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post("/uploads/", {"url": url}, headers=htmx_headers())
    assert response.status_code == 200, response.content
    run_queued_fetches()  # the worker's part
    stored = Upload.objects.get()
    assert stored.status == "ready" and stored.source_url == url
    assert (stored.width, stored.height) == (40, 60) and b"GPS" not in stored.file.open("rb").read()


def run_queued_fetches() -> None:
    """What the worker does with the queued link fetches."""
    for task in DBTaskResult.objects.filter(task_path="gallery.tasks.fetch_upload"):
        fetch_upload.call(*task.args_kwargs["args"])


def test_purge_deleted_removes_old_uploads_no_run_used(signed_in, user, settings):
    for name in ("used.png", "dropped.png", "recent.png"):
        assert upload(signed_in, png_bytes(32, 32), name).status_code == 200
    used, dropped, recent = (
        Upload.objects.get(original_name=n) for n in ("used.png", "dropped.png", "recent.png")
    )
    EditSource.objects.create(run=make_run(user, prompt="an edit"), position=0, upload=used)
    long_ago = timezone.now() - timedelta(days=settings.DELETED_RETENTION_DAYS + 1)
    Upload.objects.filter(pk__in=[used.pk, dropped.pk]).update(created_at=long_ago)
    dropped_files = {dropped.file.name, dropped.thumbnail.name}
    assert dropped_files <= set(stored_names())

    out = io.StringIO()
    call_command("purge_deleted", stdout=out)

    assert "Purged 1 unused upload(s); deleted 2 file(s)." in out.getvalue()
    assert set(Upload.objects.values_list("pk", flat=True)) == {used.pk, recent.pk}
    assert not dropped_files & set(stored_names())
    assert {used.file.name, recent.file.name} <= set(stored_names())


def test_someone_elses_upload_cannot_be_attached_or_seen(client, user, other_user):
    client.force_login(other_user)
    upload(client, png_bytes(30, 30))
    theirs = Upload.objects.get()
    client.force_login(user)
    assert client.get(f"/uploads/{theirs.pk}/thumbnail.webp").status_code == 404
    response = client.post(
        "/generate/",
        {"prompt": "steal it", "model": ["offline/aurora"], "source": [f"upload:{theirs.pk}"]},
    )
    assert response.status_code == 400
    assert "no longer available" in response.content.decode()
    assert not Run.objects.exists()


# --- choosing models while images are attached ----------------------------------------------------


def attach(client):
    upload(client, png_bytes(64, 48))
    return f"upload:{Upload.objects.latest('pk').pk}"


def test_with_images_attached_only_models_that_take_images_are_offered(signed_in, fake_gateway):
    # No edit-only model is active any more: the gateway still lists this one, so it is offered.
    fake_gateway.models = listed_models(
        "gpt-image-2", "alibaba/qwen-image-edit-plus", "meta/muse-image-1.0"
    )
    token = attach(signed_in)
    html = signed_in.get("/controls/", {"model": "gpt-image-2", "source": token}).content.decode()
    assert 'value="alibaba/qwen-image-edit-plus"' in html  # edit-only: offered now
    assert 'value="meta/muse-image-1.0"' not in html  # cannot take images
    assert ">Background</label>" in html and ">Input fidelity</label>" in html
    assert ">Output format</label>" in html and ">Compression</label>" in html
    plain = signed_in.get("/controls/", {"model": "gpt-image-2"}).content.decode()
    assert (
        'value="alibaba/qwen-image-edit-plus"' not in plain and ">Background</label>" not in plain
    )
    assert 'value="meta/muse-image-1.0"' in plain


@pytest.mark.parametrize(
    ("models", "sources", "message"),
    [
        (["meta/muse-image-1.0"], 1, "cannot edit images"),
        (["xai/grok-imagine-image"], 2, "takes at most 1 image; 2 are attached"),
        (["gemini-2.5-flash-image"], 4, "takes at most 3 images; 4 are attached"),
    ],
)
def test_bad_edits_are_refused_before_anything_goes_upstream(
    signed_in, fake_gateway, models, sources, message
):
    fake_gateway.models = []
    tokens = [attach(signed_in) for _ in range(sources)]
    response = signed_in.post(
        "/generate/", {"prompt": "make it blue", "model": models, "source": tokens}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Run.objects.exists()
    assert not fake_gateway.calls(path="images/edits")


def test_the_edit_only_model_can_only_edit(signed_in, fake_gateway):
    fake_gateway.models = listed_models("alibaba/qwen-image-edit-plus")
    response = signed_in.post(
        "/generate/",
        {"prompt": "x", "model": ["alibaba/qwen-image-edit-plus"], "size": "1024x1024"},
    )
    assert "only edits images" in response.content.decode()


def test_a_bad_compression_is_named_under_its_field_and_ignored_where_it_does_not_apply(
    signed_in, fake_gateway
):
    fake_gateway.models = []
    token = attach(signed_in)
    data = {"prompt": "make it blue", "model": ["gpt-image-2"], "source": [token]}
    for value, message in (
        ("abc", "Compression must be a whole number; “abc” is not one."),
        ("150", "Compression must be from 0 to 100; got 150."),
    ):
        response = signed_in.post("/generate/", {**data, "output_compression": value})
        assert response.status_code == 400
        html = response.content.decode()
        assert (
            'aria-invalid="true" aria-describedby="output_compression-error compression-note"'
            in html
        )
        assert f'id="output_compression-error" class="field-error" role="alert">{message}' in html
    assert not Run.objects.exists()
    # With no image attached Compression does not apply: a value left over is ignored, as the
    # other edit settings are, rather than refusing the run without a word.
    plain = {"prompt": "a red fox", "model": ["gpt-image-2"], "output_compression": "abc"}
    assert signed_in.post("/generate/", plain).status_code == 302
    assert Run.objects.get().kind == "generate"


def test_without_javascript_files_attach_and_their_remove_button_takes_them_off(signed_in):
    """The plain POST path: files sent with the form become chips ("Update choices" redraws),
    and a chip's × sends remove_source; neither starts a run."""
    data = {"prompt": "make it blue", "model": ["offline/aurora"], "action": "refresh"}
    files = {"images": SimpleUploadedFile("fox.png", png_bytes(64, 48))}
    attached = signed_in.post("/generate/", {**data, **files})
    assert attached.status_code == 200
    token = f"upload:{Upload.objects.get().pk}"
    html = attached.content.decode()
    assert f'name="source" value="{token}"' in html and "Add image" in html
    removed = signed_in.post("/generate/", {**data, "source": [token],
                                            "action": f"remove_source:{token}"})  # fmt: skip
    html = removed.content.decode()
    assert removed.status_code == 200
    assert f'value="{token}"' not in html and "Edit an image" in html
    assert ">make it blue</textarea>" in html
    assert not Run.objects.exists()


# --- what the gateway receives ----------------------------------------------------------------------


def start_edit(client, tokens, **extra):
    data = {"prompt": "make it look like a watercolour", "model": ["gpt-image-2"], "source": tokens}
    data.update(extra)
    response = client.post("/generate/", data, headers=htmx_headers())
    assert response.status_code == 200, response.content.decode()[:500]
    return Run.objects.latest("pk")


@pytest.mark.django_db(transaction=True)
def test_json_edits_carry_the_cleaned_images_as_data_urls(signed_in, fake_gateway):
    fake_gateway.models = []
    first, second = attach(signed_in), attach(signed_in)
    run = start_edit(
        signed_in,
        [first, second],
        background="transparent",
        input_fidelity="high",
        output_format="webp",
        output_compression="70",
        size="1536x1024",
        quality="high",
        count="2",
    )
    assert run.kind == "edit"
    assert [s.upload_id for s in run.sources.all()] == [
        int(first.split(":")[1]),
        int(second.split(":")[1]),
    ]
    runner.make_images(run_id=run.pk)
    calls = fake_gateway.calls(path="images/edits")
    assert len(calls) == 2 and not fake_gateway.calls(path="images/generations")
    body = calls[0].json
    assert body["model"] == "gpt-image-2" and body["n"] == 1
    assert body["prompt"] == "make it look like a watercolour"
    assert body["background"] == "transparent" and body["input_fidelity"] == "high"
    assert body["output_format"] == "webp" and body["output_compression"] == 70
    assert body["size"] == "1536x1024" and body["quality"] == "high"
    uploads = [Upload.objects.get(pk=int(t.split(":")[1])) for t in (first, second)]
    sent = [item["image_url"] for item in body["images"]]
    assert sent == [
        "data:image/png;base64," + base64.b64encode(u.file.open("rb").read()).decode()
        for u in uploads
    ]
    assert all(i.status == "succeeded" for i in run.images.all())


@pytest.mark.django_db(transaction=True)
def test_multipart_edits_for_gateways_that_need_them(signed_in, fake_gateway, settings):
    settings.GATEWAY_EDITS_MULTIPART = True
    fake_gateway.models = []
    token = attach(signed_in)
    run = start_edit(signed_in, [token], size="1024x1024")
    runner.make_images(run_id=run.pk)
    [call] = fake_gateway.calls(path="images/edits")
    assert call.json is None
    assert call.fields["model"] == "gpt-image-2" and call.fields["n"] == "1"
    assert call.fields["size"] == "1024x1024"
    [sent] = call.files
    assert sent.field == "image" and sent.content_type == "image/png"
    assert sent.data == Upload.objects.get().file.open("rb").read()
    assert run.images.get().status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_models_only_get_the_edit_settings_they_take(signed_in, fake_gateway):
    fake_gateway.models = []
    token = attach(signed_in)
    run = start_edit(
        signed_in,
        [token],
        compare="on",
        model=["gpt-image-2", "gemini-3.1-flash-image-preview"],
        background="opaque",
        output_format="jpeg",
        aspect_ratio="auto",
    )
    runner.make_images(run_id=run.pk)
    bodies = {c.json["model"]: c.json for c in fake_gateway.calls(path="images/edits")}
    assert bodies["gpt-image-2"]["background"] == "opaque"
    assert "background" not in bodies["gemini-3.1-flash-image-preview"]
    assert "output_format" not in bodies["gemini-3.1-flash-image-preview"]


@pytest.mark.django_db(transaction=True)
def test_the_offline_renderer_edits_too(signed_in):
    upload(signed_in, png_bytes(120, 80, (40, 160, 90)))
    token = f"upload:{Upload.objects.get().pk}"
    run = start_edit(
        signed_in,
        [token],
        model=["offline/aurora"],
        aspect_ratio="auto",
        resolution="0.5K",
        output_format="jpeg",
        output_compression="60",
    )
    image = run.images.get()
    assert abs(image.expected_width / image.expected_height - 1.5) < 0.05  # keeps the input's shape
    runner.make_images(run_id=run.pk)
    image.refresh_from_db()
    assert image.status == "succeeded", image.error
    assert image.format == "jpeg"
    with PILImage.open(image.file.open("rb")) as result:
        assert result.size == (image.expected_width, image.expected_height)


# --- starting an edit from the gallery, and lineage -------------------------------------------------


def finished(user, prompt="the original"):
    run = make_run(user, prompt=prompt)
    return make_succeeded_image(run.images.get())


def test_edit_from_the_lightbox_prefills_the_prompt_box(signed_in, user):
    source = finished(user)
    html = signed_in.get("/", {"edit": source.pk}).content.decode()
    assert f'name="source" value="image:{source.pk}"' in html
    assert "Describe the change you want" in html
    fragment = signed_in.get(
        "/", {"edit": source.pk}, headers={**htmx_headers(), "HX-Target": "generate-form"}
    ).content.decode()
    assert f'value="image:{source.pk}"' in fragment and "<article" not in fragment
    assert signed_in.get("/", {"edit": 99999}).status_code == 404
    lightbox = signed_in.get(f"/images/{source.pk}/", headers=htmx_headers()).content.decode()
    assert f'hx-get="/?edit={source.pk}"' in lightbox


def test_lineage_links_both_ways(signed_in, user):
    source = finished(user)
    response = signed_in.post(
        "/generate/",
        {"prompt": "now at night", "model": ["offline/mosaic"], "source": [f"image:{source.pk}"]},
    )
    assert response.status_code == 302
    edit_run = Run.objects.latest("pk")
    assert EditSource.objects.get(run=edit_run).image == source
    result = make_succeeded_image(edit_run.images.get())

    html = signed_in.get(f"/images/{result.pk}/", headers=htmx_headers()).content.decode()
    assert "Edited from" in html and f'href="/images/{source.pk}/"' in html
    html = signed_in.get(f"/images/{source.pk}/", headers=htmx_headers()).content.decode()
    assert "Edits of this image" in html and f'href="/images/{result.pk}/"' in html
    # The edit run shows its source in the gallery too.
    gallery = signed_in.get("/").content.decode()
    run_html = gallery.split(f'id="run-{edit_run.pk}"')[1].split("</article>")[0]
    assert "Edited from" in run_html and f"/images/{source.pk}/thumbnail.webp" in run_html


def test_no_javascript_upload_with_the_form(signed_in):
    response = signed_in.post(
        "/generate/",
        {"prompt": "a cleaner version", "model": ["offline/aurora"],
         "images": SimpleUploadedFile("a.png", png_bytes(50, 50))},
    )  # fmt: skip
    assert response.status_code == 302
    run = Run.objects.get()
    assert run.kind == "edit" and run.sources.get().upload is not None
    assert Image.objects.filter(run=run).count() == 1
