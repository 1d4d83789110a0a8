import io
import json
import os
import random
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile

from gallery import imaging, media, memory
from gallery.imaging import (
    ImageBusy,
    ImageRejected,
    image_size_from_bytes,
    process_generated,
    sanitize_upload,
)
from tests.factories import jpeg_bytes, wide_gamut_profile, zeros_png

NOT_AN_IMAGE = "The file is not an image we can read (PNG, JPEG, WebP or GIF)."
DAMAGED = "The image file is incomplete or damaged, so it cannot be read."


def encode(im: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, image_format, **options)
    return buffer.getvalue()


def picture(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: enough structure to tell orientation apart."""
    im = Image.new("RGB", (width, height), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, width // 2, height))
    return im.convert(mode)


def random_pixels(width: int, height: int) -> Image.Image:
    """Incompressible pixels, so the encoded size is predictable."""
    return Image.frombytes("RGB", (width, height), random.Random(0).randbytes(width * height * 3))


def translucent(mode: str) -> Image.Image:
    im = picture(mode="RGBA")
    im.putalpha(Image.linear_gradient("L").resize(im.size))
    return im.convert(mode)


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG header for a huge image, followed by a few bytes of pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def reopen(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@pytest.mark.parametrize(
    ("image_format", "expected", "mime"),
    [
        ("PNG", "png", "image/png"),
        ("JPEG", "jpeg", "image/jpeg"),
        ("WEBP", "webp", "image/webp"),
        ("GIF", "gif", "image/gif"),
    ],
)
def test_format_is_identified_by_content(image_format, expected, mime):
    data = encode(picture(), image_format)

    result = process_generated(data)

    assert (result.format, media.mime_type(result.format)) == (expected, mime)
    assert (result.width, result.height) == (64, 48)
    assert image_size_from_bytes(data) == (64, 48)


def test_content_wins_over_what_the_bytes_claim_to_be():
    # The functions take no names; a PNG that was saved as "photo.jpg" is just PNG bytes.
    # A JPEG with a PNG-ish text in a comment is still a JPEG.
    data = encode(picture(), "JPEG", comment=b"\x89PNG\r\n\x1a\n")

    assert process_generated(data).format == "jpeg"
    assert sanitize_upload(encode(picture(), "PNG")).format == "png"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"hello, this is a plain text file\n", NOT_AN_IMAGE),
        (b"<!DOCTYPE html><html><body><img src=x></body></html>", NOT_AN_IMAGE),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", NOT_AN_IMAGE),
        (b'{"image": "not really"}', NOT_AN_IMAGE),
        (encode(picture(), "BMP"), NOT_AN_IMAGE),
        (encode(picture(), "TIFF"), NOT_AN_IMAGE),
    ],
    ids=["empty", "text", "html", "pdf", "json", "bmp", "tiff"],
)
def test_non_images_are_rejected(data, message):
    for check in (process_generated, sanitize_upload, image_size_from_bytes):
        with pytest.raises(ImageRejected) as raised:
            check(data)
        assert raised.value.message == message


@pytest.mark.parametrize(
    "svg",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b'\xef\xbb\xbf  <?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
        b"<!-- made by hand -->\n<svg><script>alert(1)</script></svg>",
    ],
)
def test_svg_is_rejected_with_its_own_message(svg):
    for check in (process_generated, sanitize_upload):
        with pytest.raises(ImageRejected, match="SVG files are not accepted"):
            check(svg)


def test_heic_gets_a_helpful_message():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"

    with pytest.raises(ImageRejected, match="HEIC and AVIF images are not supported"):
        sanitize_upload(heic)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_files_are_rejected(image_format):
    noisy = Image.effect_noise((256, 256), 64).convert("RGB")
    data = encode(noisy, image_format)
    truncated = data[: len(data) // 2]

    for check in (process_generated, sanitize_upload):
        with pytest.raises(ImageRejected) as raised:
            check(truncated)
        assert raised.value.message == DAMAGED


def test_truncation_setting_of_pillow_is_left_alone():
    process_generated(encode(picture(), "PNG"))
    sanitize_upload(encode(picture(), "JPEG"))

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert Image.MAX_IMAGE_PIXELS == 89_478_485


def test_decompression_bomb_is_rejected_fast_from_its_header():
    bomb = png_declaring(30000, 30000)
    assert len(bomb) < 200

    started = time.perf_counter()
    for check in (process_generated, sanitize_upload):
        with pytest.raises(ImageRejected, match="over 50 megapixels"):
            check(bomb)
    assert time.perf_counter() - started < 0.5
    # Header-only reading still reports the declared size.
    assert image_size_from_bytes(bomb) == (30000, 30000)


def test_webp_bomb_is_rejected_before_the_decoder_allocates_its_canvas():
    # VP8X header declaring 16384x16384 (the WebP maximum), with no image data at all.
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (16383).to_bytes(3, "little") * 2
    bomb = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x

    started = time.perf_counter()
    with pytest.raises(ImageRejected, match="over 50 megapixels"):
        process_generated(bomb)
    assert time.perf_counter() - started < 0.5


def test_pixel_limit_is_a_parameter():
    data = encode(picture(100, 100), "PNG")

    with pytest.raises(ImageRejected, match=r"100x100 pixels, over 0.005 megapixels"):
        process_generated(data, max_pixels=5_000)
    assert process_generated(data, max_pixels=10_000).width == 100


def test_upload_over_the_byte_limit_is_rejected_before_reading():
    too_big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (20 * 1024 * 1024)

    with pytest.raises(ImageRejected, match="over 20 MB"):
        sanitize_upload(too_big)
    with pytest.raises(ImageRejected, match="over 1 MB"):
        sanitize_upload(encode(random_pixels(700, 700), "PNG"), max_bytes=1024 * 1024)


@pytest.mark.parametrize(
    ("size", "thumb_size"),
    [
        ((2000, 1000), (512, 256)),
        ((1000, 3000), (171, 512)),
        ((1024, 1024), (512, 512)),
        ((300, 200), (300, 200)),  # never enlarged
        ((1, 1), (1, 1)),
    ],
)
def test_thumbnail_is_webp_fitting_the_longest_side(size, thumb_size):
    result = process_generated(encode(picture(*size), "PNG"))

    thumb = reopen(result.thumbnail)
    assert thumb.format == "WEBP"
    assert thumb.size == thumb_size == (result.thumb_width, result.thumb_height)
    assert (result.width, result.height) == size


def test_thumbnail_side_is_a_parameter_and_jpeg_draft_keeps_the_picture():
    result = process_generated(encode(picture(1600, 1200), "JPEG"), thumb_max_side=100)

    thumb = reopen(result.thumbnail).convert("RGB")
    assert thumb.size == (100, 75)
    assert thumb.getpixel((10, 37))[0] > 200  # the red half is still on the left
    assert thumb.getpixel((90, 37))[2] > 200


def test_thumbnail_keeps_alpha():
    im = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    im.paste((0, 200, 0, 255), (200, 0, 400, 200))

    thumb = reopen(process_generated(encode(im, "PNG")).thumbnail)

    assert thumb.mode == "RGBA"
    assert thumb.getpixel((20, 50))[3] == 0
    assert thumb.getpixel((230, 50)) == pytest.approx((0, 200, 0, 255), abs=3)


def _palette_with_transparency() -> Image.Image:
    im = picture(mode="RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    im.info["transparency"] = im.getpixel((0, 0))  # the red half becomes see-through
    return im


@pytest.mark.parametrize(
    ("make", "image_format", "expected_mode"),
    [
        (lambda: picture(mode="P"), "PNG", "RGB"),
        (_palette_with_transparency, "PNG", "RGBA"),
        (lambda: translucent("LA"), "PNG", "RGBA"),
        (lambda: picture(mode="L"), "PNG", "RGB"),
        (lambda: translucent("RGBA"), "PNG", "RGBA"),
        (lambda: picture(mode="RGBA"), "PNG", "RGB"),  # fully opaque: WebP drops the alpha
        (lambda: picture(mode="RGB"), "PNG", "RGB"),
        (lambda: picture(mode="1"), "PNG", "RGB"),
        (lambda: picture(mode="CMYK"), "JPEG", "RGB"),
        (lambda: picture(mode="L"), "JPEG", "RGB"),
        (lambda: Image.new("I;16", (64, 48), 40000), "PNG", "RGB"),
    ],
    ids=[
        *("P", "P+transparency", "LA", "L", "RGBA", "RGBA-opaque", "RGB", "1"),
        *("CMYK", "L-jpeg", "I;16"),
    ],
)
def test_every_mode_gets_a_thumbnail_and_a_clean_upload(make, image_format, expected_mode):
    data = encode(make(), image_format)

    thumb = reopen(process_generated(data).thumbnail)
    clean = sanitize_upload(data)

    assert thumb.mode == expected_mode
    assert thumb.size == (64, 48)
    assert (clean.width, clean.height) == (64, 48)
    assert reopen(clean.data).size == (64, 48)


def test_sixteen_bit_grey_is_scaled_not_clipped():
    data = encode(Image.new("I;16", (32, 32), 40000), "PNG")

    thumb = reopen(process_generated(data).thumbnail)

    assert thumb.getpixel((16, 16)) == pytest.approx((156, 156, 156), abs=3)


def test_transparent_palette_pixels_stay_transparent_in_the_thumbnail():
    thumb = reopen(process_generated(encode(_palette_with_transparency(), "PNG")).thumbnail)

    assert thumb.getpixel((5, 20))[3] == 0
    assert thumb.getpixel((60, 20))[3] == 255


def test_upload_keeps_png_mode_and_transparency():
    clean = sanitize_upload(encode(_palette_with_transparency(), "PNG"))

    im = reopen(clean.data)
    assert im.mode == "P"
    assert im.convert("RGBA").getpixel((5, 20))[3] == 0
    assert reopen(sanitize_upload(encode(Image.new("I;16", (8, 8), 40000), "PNG")).data).mode == (
        "I;16"
    )


def test_cmyk_jpeg_upload_becomes_rgb():
    clean = sanitize_upload(encode(picture(mode="CMYK"), "JPEG"))

    im = reopen(clean.data)
    assert im.mode == "RGB"
    assert im.getpixel((5, 20))[0] > 200


def test_pa_images_can_be_thumbnailed():
    # No accepted file format decodes to PA, but Pillow can hand one over after conversions.
    im = Image.new("PA", (40, 20))

    assert imaging._thumbnail(im, 10).mode == "RGBA"


def _jpeg_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return encode(picture(200, 100), "JPEG", exif=exif, quality=95)


def test_exif_orientation_is_applied_to_the_thumbnail():
    result = process_generated(_jpeg_with_orientation(6))

    thumb = reopen(result.thumbnail).convert("RGB")
    assert (result.width, result.height) == (100, 200)
    assert thumb.size == (100, 200) == (result.thumb_width, result.thumb_height)
    # Orientation 6 means "rotate 90 degrees clockwise to display": the stored left (red)
    # half ends up on top.
    assert thumb.getpixel((50, 20))[0] > 200
    assert thumb.getpixel((50, 180))[2] > 200
    assert image_size_from_bytes(_jpeg_with_orientation(6)) == (200, 100)  # as stored


def test_exif_orientation_is_applied_to_uploads():
    clean = sanitize_upload(_jpeg_with_orientation(6))

    im = reopen(clean.data)
    assert (clean.width, clean.height) == im.size == (100, 200)
    assert im.getpixel((50, 20))[0] > 200
    assert not im.getexif()


def test_upload_loses_gps_exif_xmp_and_comment_but_keeps_icc():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyPhone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 1.5)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(
        picture(),
        "JPEG",
        exif=exif,
        comment=b"secret comment",
        xmp=b"<x:xmpmeta>secret xmp</x:xmpmeta>",
        icc_profile=icc,
    )
    assert reopen(data).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture is real

    clean = sanitize_upload(data)

    im = reopen(clean.data)
    assert clean.format == "jpeg" and media.mime_type(clean.format) == "image/jpeg"
    assert not im.getexif()
    assert "exif" not in im.info and "xmp" not in im.info and "comment" not in im.info
    for secret in (b"Exif", b"SpyPhone", b"secret", b"xmpmeta"):
        assert secret not in clean.data
    assert im.info["icc_profile"] == icc


def test_png_upload_loses_text_and_exif_chunks():
    from PIL.PngImagePlugin import PngInfo

    text = PngInfo()
    text.add_text("parameters", "secret prompt, seed 42")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyPhone"
    data = encode(picture(mode="RGBA"), "PNG", pnginfo=text, exif=exif)

    clean = sanitize_upload(data)

    im = reopen(clean.data)
    assert clean.format == "png" and im.mode == "RGBA"
    assert not im.getexif()
    assert b"secret" not in clean.data and b"SpyPhone" not in clean.data


@pytest.mark.parametrize(("lossless", "chunk"), [(True, b"VP8L"), (False, b"VP8 ")])
def test_webp_upload_stays_webp_and_keeps_lossless_or_not(lossless, chunk):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyPhone"
    data = encode(picture(), "WEBP", lossless=lossless, exif=exif)

    clean = sanitize_upload(data)

    assert clean.format == "webp"
    assert chunk in clean.data[:64]
    assert b"SpyPhone" not in clean.data
    assert reopen(clean.data).size == (64, 48)


def test_gif_upload_becomes_png_of_its_first_frame():
    frames = [Image.new("RGB", (30, 20), colour) for colour in ("red", "lime", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], comment=b"secret")

    clean = sanitize_upload(buffer.getvalue())

    im = reopen(clean.data).convert("RGB")
    assert (clean.format, media.mime_type(clean.format)) == ("png", "image/png")
    assert reopen(clean.data).format == "PNG"
    assert im.getpixel((5, 5)) == (255, 0, 0)
    assert b"secret" not in clean.data


def test_header_only_size_does_not_need_the_pixels():
    for image_format in ("PNG", "JPEG", "GIF", "WEBP"):
        data = encode(picture(321, 123), image_format)
        assert image_size_from_bytes(data[:300]) == (321, 123), image_format
    lossless = encode(picture(321, 123), "WEBP", lossless=True)
    assert image_size_from_bytes(lossless) == (321, 123)
    with pytest.raises(ImageRejected):
        image_size_from_bytes(b"\x89PNG\r\n\x1a\n\x00")


# --- decompression bombs under the pixel cap, and the decode budget ---------------------------

BOMB_MESSAGE = (
    "This image would take 196 MB of memory to open but is only 0.2 MB: it looks like a "
    "decompression bomb, so it was refused."
)


def test_a_bomb_under_the_pixel_cap_is_refused_as_an_upload():
    bomb = zeros_png()  # 7000x7000 RGBA zeros: 49 megapixels, under the 50 megapixel cap
    assert len(bomb) < 200_000

    with pytest.raises(ImageRejected) as raised:
        sanitize_upload(bomb)
    assert raised.value.message == BOMB_MESSAGE

    with pytest.raises(ImageRejected, match=r"take 196 MB of memory to open but is only 48 KB"):
        sanitize_upload(zeros_png(palette=True))  # palettes are widened to colour for thumbnails


def _peak_growth_kb(tmp_path, data: bytes, code: str, **env: str) -> dict:
    """Run `code` in a fresh Python with `data` (the image bytes) loaded; report how much the
    process's peak size grew meanwhile. tracemalloc cannot see Pillow's C allocations, and
    ru_maxrss would start at this (big) test process's peak: the child is spawned from it."""
    image_file = tmp_path / "image.png"
    image_file.write_bytes(data)
    script = "\n".join(
        [
            "import json, threading",
            "from gallery import imaging",
            "def peak_kb():",
            "    status = open('/proc/self/status').read()",
            "    return int(status.split('VmHWM:')[1].split()[0])",
            f"data = open({str(image_file)!r}, 'rb').read()",
            "before = peak_kb()",
            "outcome = 'done'",
            "try:",
            textwrap.indent(textwrap.dedent(code).strip(), "    "),
            "except imaging.ImageRejected as exc:",
            "    outcome = exc.message",
            "print(json.dumps({'outcome': outcome, 'grew_kb': peak_kb() - before}))",
        ]
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "SECRET_KEY": "test",
        "STUDIO_DATA_DIR": str(tmp_path / "var"),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
    )
    return json.loads(done.stdout)


def test_refusing_the_bomb_allocates_next_to_nothing(tmp_path):
    result = _peak_growth_kb(tmp_path, zeros_png(), "imaging.sanitize_upload(data)")

    assert result["outcome"] == BOMB_MESSAGE
    assert result["grew_kb"] < 10_000  # opening it would have taken 196,000 KB and more


def test_many_big_model_outputs_at_once_stay_within_the_budget(tmp_path):
    # 4000x4000 RGBA: 64 MB decoded, 128 MB while thumbnailed; a 150 MB budget opens one at a
    # time. Four threads doing two each grew the process by ~500 MB before the budget, ~330 MB
    # with the budget but no block pool (malloc kept each thread's freed pixels for that
    # thread), ~155 MB with both.
    code = """
        start = threading.Barrier(4)
        def work():
            start.wait()
            for _ in range(2):
                imaging.process_generated(data)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    """
    result = _peak_growth_kb(tmp_path, zeros_png(4000, 4000), code, IMAGE_DECODE_BUDGET_MB="150")

    assert result["outcome"] == "done"
    assert result["grew_kb"] < 220_000


@pytest.mark.parametrize(
    "make",
    [
        # One colour at 3840x2160: 1370:1 but only 33 MB to hold, under the 64 MB floor.
        lambda: encode(Image.new("RGB", (3840, 2160), "white"), "PNG"),
        # A grey 4096x4096 mask holds 1 byte a pixel: 17 MB.
        lambda: encode(Image.new("L", (4096, 4096)), "PNG"),
        # JPEG cannot compress much past 256:1, even a blank 6000x4000 (96 MB) canvas.
        lambda: encode(Image.new("RGB", (6000, 4000), "white"), "JPEG"),
    ],
    ids=["blank-4k-uhd-png", "grey-4096-mask", "blank-6000x4000-jpeg"],
)
def test_flat_but_honest_uploads_are_accepted(make):
    assert sanitize_upload(make()).width > 0


def test_model_outputs_are_not_held_to_the_upload_proportion_rule():
    # The gateway sends flat-colour pictures; those are ours to keep (the budget bounds them).
    flat = zeros_png(4096, 4096, palette=True)

    result = process_generated(flat)

    assert (result.width, result.height) == (4096, 4096)
    with pytest.raises(ImageRejected, match="decompression bomb"):
        sanitize_upload(flat)


def _count_decodes_at_once(monkeypatch) -> dict:
    """Record how many images are being decoded at the same moment (each decode lingers)."""
    seen = {"now": 0, "most": 0}
    lock = threading.Lock()
    load = imaging._load

    def counting_load(im):
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        try:
            time.sleep(0.1)
            load(im)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(imaging, "_load", counting_load)
    return seen


def test_the_budget_lets_only_so_many_big_decodes_run_at_once(settings, monkeypatch):
    settings.IMAGE_DECODE_BUDGET_MB = 160
    gradient = Image.linear_gradient("L").resize((3000, 3000)).convert("RGB")
    big = encode(gradient, "PNG")  # 36 MB decoded, 72 MB with its working copy: two fit, not three
    small = encode(picture(), "PNG")
    seen = _count_decodes_at_once(monkeypatch)

    with ThreadPoolExecutor(max_workers=8) as pool:
        # Uploads and model outputs draw on the same budget.
        jobs = [pool.submit(sanitize_upload, big) for _ in range(3)]
        jobs += [pool.submit(process_generated, big) for _ in range(3)]
        for job in jobs:
            job.result()
    assert seen["most"] == 2

    with ThreadPoolExecutor(max_workers=8) as pool:  # small images fit side by side
        for job in [pool.submit(process_generated, small) for _ in range(8)]:
            job.result()
    assert seen["most"] == 8


def test_decode_slots_bound_big_decodes_however_much_budget_is_free(settings, monkeypatch):
    settings.IMAGE_DECODE_BUDGET_MB = 4000  # room for all six at once
    settings.IMAGE_DECODE_CONCURRENCY = 2
    gradient = Image.linear_gradient("L").resize((2400, 1800)).convert("RGB")
    big = encode(gradient, "PNG")  # 17 MB decoded: a big decode
    small = encode(picture(), "PNG")
    seen = _count_decodes_at_once(monkeypatch)

    with ThreadPoolExecutor(max_workers=6) as pool:
        jobs = [pool.submit(process_generated, big) for _ in range(4)]
        jobs += [pool.submit(sanitize_upload, big) for _ in range(2)]
        for job in jobs:
            job.result()
    assert seen["most"] == 2
    assert memory.decode_slots().busy == 0

    settings.IMAGE_DECODE_CONCURRENCY = 1
    seen["most"] = 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        for job in [pool.submit(process_generated, big) for _ in range(4)]:
            job.result()
    assert seen["most"] == 1

    seen["most"] = 0
    with ThreadPoolExecutor(max_workers=6) as pool:  # small images take no slot
        for job in [pool.submit(process_generated, small) for _ in range(6)]:
            job.result()
    assert seen["most"] == 6


def test_an_upload_waits_only_so_long_for_a_decode_slot(settings):
    settings.IMAGE_DECODE_CONCURRENCY = 1
    big = encode(Image.linear_gradient("L").resize((2400, 1800)).convert("RGB"), "PNG")
    held = threading.Event()
    release = threading.Event()

    def hold_the_slot():
        with memory.decode_slots().take(wait=0):
            held.set()
            release.wait(5)

    with ThreadPoolExecutor(max_workers=2) as pool:
        holder = pool.submit(hold_the_slot)
        held.wait(5)
        started = time.perf_counter()
        with pytest.raises(ImageBusy):
            sanitize_upload(big, wait=0.2)
        assert 0.2 <= time.perf_counter() - started < 2
        worker = pool.submit(process_generated, big)
        time.sleep(0.3)
        assert not worker.done()
        release.set()
        assert worker.result(timeout=10).width == 2400
        holder.result()


def test_a_model_output_is_read_from_its_file_as_from_its_bytes(tmp_path):
    data = encode(random_pixels(1200, 900), "PNG")
    path = tmp_path / "answer.img"
    path.write_bytes(data)

    from_file, from_bytes = process_generated(str(path)), process_generated(data)

    assert from_file == from_bytes
    assert (from_file.width, from_file.height, from_file.format) == (1200, 900, "png")
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageRejected, match="incomplete or damaged"):
        process_generated(str(path))
    path.write_bytes(b"just some text, not an image")
    with pytest.raises(ImageRejected, match="not an image"):
        process_generated(path)


def test_a_jpeg_whose_frame_header_lies_past_the_first_read_is_read_whole(tmp_path):
    jpeg = encode(picture(320, 200), "JPEG")
    padding = b"".join(b"\xff\xe9" + (60_002).to_bytes(2, "big") + bytes(60_000) for _ in range(6))
    path = tmp_path / "answer.img"
    path.write_bytes(jpeg[:2] + padding + jpeg[2:])  # 360 KB of APP9 segments before the frame

    result = process_generated(path)

    assert (result.width, result.height, result.format) == (320, 200, "jpeg")


def test_an_upload_waits_only_so_long_for_the_budget_but_the_worker_waits_its_turn(settings):
    settings.IMAGE_DECODE_BUDGET_MB = 10
    budget = memory.decode_budget()
    data = encode(picture(), "PNG")
    held = threading.Event()
    release = threading.Event()

    def hold_everything():
        with budget.reserve(budget.capacity, wait=0):
            held.set()
            release.wait(5)

    with ThreadPoolExecutor(max_workers=2) as pool:
        holder = pool.submit(hold_everything)
        held.wait(5)
        started = time.perf_counter()
        with pytest.raises(ImageBusy) as raised:
            sanitize_upload(data, wait=0.2)
        assert 0.2 <= time.perf_counter() - started < 2
        assert raised.value.message == (
            "The studio is busy opening other large images. Please try again in a minute."
        )

        worker = pool.submit(process_generated, data)  # no wait given: waits as long as it takes
        time.sleep(0.3)
        assert not worker.done()
        release.set()
        assert worker.result(timeout=5).width == 64
        holder.result()
    assert budget.in_use == 0


# --- ICC profiles ---------------------------------------------------------------------------------


def _padded_srgb_profile(size: int) -> bytes:
    """A real sRGB profile grown to `size` bytes, its header still claiming the whole length."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc += bytes(size - len(icc))
    icc[0:4] = struct.pack(">I", size)
    return bytes(icc)


@pytest.mark.parametrize(
    "icc",
    [
        random.Random(1).randbytes(7_600_000),
        _padded_srgb_profile(7_600_000),
        b"not a profile at all" * 50,
        ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(),  # not RGB
    ],
    ids=["7.6MB-junk", "7.6MB-padded-srgb", "small-junk", "wrong-colour-space"],
)
def test_a_bad_or_oversized_icc_profile_is_dropped(icc):
    data = jpeg_bytes(icc_profile=icc)
    assert len(reopen(data).info["icc_profile"]) == len(icc)  # the fixture really carries it

    clean = sanitize_upload(data)
    thumb = process_generated(data).thumbnail

    assert "icc_profile" not in reopen(clean.data).info
    assert len(clean.data) < 10_000
    assert "icc_profile" not in reopen(thumb).info
    assert len(thumb) < 1_000


def test_a_valid_profile_is_kept_on_the_upload_and_applied_to_the_thumbnail():
    icc = wide_gamut_profile()
    colour = (60, 180, 90)
    in_srgb = ImageCms.profileToProfile(
        Image.new("RGB", (1, 1), colour),
        ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"),
    ).getpixel((0, 0))
    assert abs(in_srgb[0] - colour[0]) > 40  # the profile really changes this colour

    for data in (jpeg_bytes(64, 64, colour, icc_profile=icc), encode_png_with(icc, colour)):
        clean = sanitize_upload(data)
        thumb = reopen(process_generated(clean.data).thumbnail)

        assert reopen(clean.data).info["icc_profile"] == icc
        assert "icc_profile" not in thumb.info
        assert thumb.convert("RGB").getpixel((32, 32)) == pytest.approx(in_srgb, abs=6)


def encode_png_with(icc: bytes, colour) -> bytes:
    return encode(Image.new("RGB", (64, 64), colour), "PNG", icc_profile=icc)


def test_model_output_thumbnails_carry_no_profile():
    data = encode(picture(), "WEBP", icc_profile=wide_gamut_profile())

    thumb = reopen(process_generated(data).thumbnail)

    assert "icc_profile" not in thumb.info
