import io
import random
import struct
import time
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile

from gallery import imaging, media
from gallery.imaging import (
    ImageRejected,
    image_size_from_bytes,
    process_generated,
    sanitize_upload,
)

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
