import asyncio
import hashlib
import io
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from gallery import gateway, offline
from gallery.imaging import ImageRejected
from gallery.offline.palette import palette_for


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def encode(im: Image.Image, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, image_format)
    return buffer.getvalue()


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def correlation(a: Image.Image, b: Image.Image) -> float:
    """Pearson correlation of the two pictures' brightness, on a 32x32 grid."""
    xs = a.convert("L").resize((32, 32), Image.Resampling.BOX).tobytes()
    ys = b.convert("L").resize((32, 32), Image.Resampling.BOX).tobytes()
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy)


def photo(width: int = 640, height: int = 480) -> Image.Image:
    """A stand-in photograph: a dark-to-light sky, a bright sun, a dark hill."""
    im = Image.linear_gradient("L").rotate(90).resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(im)
    draw.ellipse((width * 0.6, height * 0.1, width * 0.8, height * 0.37), fill=(255, 230, 150))
    draw.polygon(
        [(0, height), (0, height * 0.6), (width * 0.5, height * 0.75), (0, height)],
        fill=(20, 30, 25),
    )
    draw.rectangle((0, height * 0.85, width, height), fill=(10, 10, 10))
    return im


def render(**overrides) -> bytes:
    arguments = {"prompt": "a lighthouse at sunset", "width": 320, "height": 240, "style": "aurora"}
    return offline.render(**(arguments | overrides))


@pytest.mark.parametrize("style", offline.STYLES)
@pytest.mark.parametrize(
    "size", [(1024, 1024), (721, 1283), (1283, 721), (1, 1), (3, 900), (64, 48)]
)
def test_render_gives_a_png_of_exactly_the_requested_size(style, size):
    im = decode(render(style=style, width=size[0], height=size[1]))

    assert im.format == "PNG"
    assert im.mode == "RGB"
    assert im.size == size


@pytest.mark.parametrize("style", offline.STYLES)
def test_render_4k_is_exact_and_quick(style):
    started = time.perf_counter()
    data = render(style=style, width=4096, height=2304, quality="high")
    elapsed = time.perf_counter() - started

    assert decode(data).size == (4096, 2304)
    assert elapsed < 3  # about half a second on two cores; generous for busy CI machines


@pytest.mark.parametrize("style", offline.STYLES)
def test_render_1024_is_quick(style):
    render(style=style, width=64, height=64)  # fonts and masks are cached after first use
    started = time.perf_counter()
    render(style=style, width=1024, height=1024)

    assert time.perf_counter() - started < 0.5  # ~40-90 ms when the machine is idle


@pytest.mark.parametrize("style", offline.STYLES)
def test_render_is_deterministic(style):
    first = render(style=style, variant=2, quality="high")
    second = render(style=style, variant=2, quality="high")

    assert first == second


def test_prompts_variants_styles_and_qualities_all_change_the_picture():
    base = decode(render())
    changed = {
        "prompt": decode(render(prompt="a quiet forest lake")),
        "variant": decode(render(variant=1)),
        "style mosaic": decode(render(style="mosaic")),
        "style blueprint": decode(render(style="blueprint")),
        "quality": decode(render(quality="low")),
    }

    for what, im in changed.items():
        assert mean_difference(base, im) > 4, what


def test_each_variant_of_a_run_is_different():
    pictures = [render(style=style, variant=v) for style in offline.STYLES for v in range(4)]

    assert len(set(pictures)) == len(pictures)


def test_prompt_words_steer_the_colours():
    def dominant(prompt: str) -> int:
        colour = palette_for(prompt).horizon
        return colour.index(max(colour))

    assert dominant("a lighthouse at sunset") == 0  # red
    assert dominant("a misty forest") == 1  # green
    assert dominant("the ocean at night") == 2  # blue


@pytest.mark.parametrize(
    ("style", "width", "height"),
    [
        *((style, 1024, 1024) for style in offline.STYLES),
        *((style, 721, 1283) for style in offline.STYLES),
        *((style, 200, 120) for style in offline.STYLES),
        ("mosaic", 4096, 2304),
    ],
)
def test_every_picture_carries_the_offline_label_in_the_bottom_left_corner(style, width, height):
    plain = offline._paint("a lighthouse at sunset", width, height, style, 0, None)
    labelled = decode(render(style=style, width=width, height=height))

    changed = ImageChops.difference(plain, labelled).getbbox()
    assert changed is not None
    left, top, right, _ = changed
    assert right < width * 0.5 and top > height * 0.8  # only the corner is touched
    assert (right - left) > width * 0.08  # and it is big enough to read
    corner = labelled.crop(changed).convert("L")
    assert corner.getextrema()[1] > 200  # light lettering ...
    assert ImageStat.Stat(corner).median[0] < 140  # ... on a darkened pill


@pytest.mark.parametrize("style", offline.STYLES)
def test_edit_transforms_the_source_but_keeps_its_picture(style):
    source = photo()

    data = offline.edit(
        prompt="sunset", sources=[encode(source)], width=512, height=384, style=style
    )

    im = decode(data)
    assert im.format == "PNG" and im.size == (512, 384)
    fitted = source.resize((512, 384))
    assert mean_difference(im, fitted) > 12  # visibly changed ...
    assert correlation(im, fitted) > 0.6  # ... but still the same picture
    assert data == offline.edit(
        prompt="sunset", sources=[encode(source)], width=512, height=384, style=style
    )


@pytest.mark.parametrize("style", offline.STYLES)
def test_edit_covers_odd_sizes_and_carries_the_label(style):
    data = offline.edit(
        prompt="night",
        sources=[encode(photo(300, 900), "JPEG")],
        width=721,
        height=1283,
        style=style,
    )

    im = decode(data)
    assert im.size == (721, 1283)
    assert im.crop((0, 1180, 300, 1283)).convert("L").getextrema()[1] > 200


@pytest.mark.parametrize("style", offline.STYLES)
def test_edit_with_two_sources_insets_the_second(style):
    first, second = encode(photo()), encode(Image.new("RGB", (300, 300), (255, 0, 255)))
    arguments = {"prompt": "sunset", "width": 800, "height": 600, "style": style}

    one = decode(offline.edit(sources=[first], **arguments))
    two = decode(offline.edit(sources=[first, second], **arguments))

    left, top, right, bottom = ImageChops.difference(one, two).getbbox()
    assert left > 800 * 0.6 and bottom < 600 * 0.4  # only the top-right corner changes
    inset_centre = two.getpixel(((left + right) // 2, (top + bottom) // 2))
    assert inset_centre == pytest.approx((255, 0, 255), abs=8)


def test_edit_keeps_transparent_sources_readable():
    source = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(source).ellipse((50, 50, 150, 150), fill=(255, 255, 255, 255))

    im = decode(
        offline.edit(prompt="x", sources=[encode(source)], width=200, height=200, style="aurora")
    )

    assert im.getpixel((100, 100))[0] > im.getpixel((20, 20))[0] + 60


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown offline style"):
        render(style="oil painting")
    with pytest.raises(ValueError, match="outside"):
        render(width=0)
    with pytest.raises(ValueError, match="at least one source"):
        offline.edit(prompt="x", sources=[], width=10, height=10, style="aurora")
    with pytest.raises(ImageRejected, match="SVG"):
        offline.edit(prompt="x", sources=[b"<svg></svg>"], width=10, height=10, style="aurora")
    truncated = encode(photo(), "JPEG")[:2000]
    with pytest.raises(ImageRejected, match="incomplete or damaged"):
        offline.edit(prompt="x", sources=[truncated], width=10, height=10, style="aurora")


def pixel_hash(data: bytes) -> str:
    """The decoded pixels' hash (not the file's): a different zlib may pack the same PNG otherwise."""
    im = decode(data)
    return hashlib.sha256(f"{im.mode} {im.size}".encode() + im.tobytes()).hexdigest()[:16]


# Taken from the renderer before it was split into a package (issue 9): moving code must not
# move pixels. Mosaic's first two draw tiles and its third triangles; blueprint's first is wide
# (section beside) and its second tall (section below); the third of each is large enough to
# skip supersampling and enlarge bicubically.
GOLDEN_RENDERS = {
    ("aurora", "a lighthouse at sunset", 320, 200, 0, None): "c319a2dbbe1f231c",
    ("aurora", "the ocean at night, neon", 200, 360, 1, "high"): "775a5e3c37b9bfc6",
    ("aurora", "a misty forest", 1800, 1500, 2, "low"): "3aadf8ef530166cf",
    ("mosaic", "a lighthouse at sunset", 320, 200, 0, None): "5e4b65c32821ba9d",
    ("mosaic", "the ocean at night, neon", 200, 360, 1, "high"): "6be14290ce9e6c13",
    ("mosaic", "a misty forest", 1800, 1500, 2, "low"): "12a8b5d57a44d783",
    ("blueprint", "a lighthouse at sunset", 320, 200, 0, None): "440eb17b058e86fb",
    ("blueprint", "the ocean at night, neon", 200, 360, 1, "high"): "3f647835846a6d33",
    ("blueprint", "a misty forest", 1800, 1500, 2, "low"): "932c79e27c44543d",
}
GOLDEN_EDITS = {
    "aurora": "013370fd70cda0ed",
    "mosaic": "ef70a5a1963357e5",
    "blueprint": "e62b90a5f8507a31",
}
GOLDEN_ENCODED = {
    ("jpeg", None): "fb1ccafd8121bd27",
    ("webp", 40): "38e26c49730dce8d",
    ("png", None): "013370fd70cda0ed",
}


@pytest.mark.parametrize(
    ("style", "prompt", "width", "height", "variant", "quality"), GOLDEN_RENDERS
)
def test_renders_match_the_golden_pixels(style, prompt, width, height, variant, quality):
    data = offline.render(
        prompt=prompt, width=width, height=height, style=style, variant=variant, quality=quality
    )

    assert pixel_hash(data) == GOLDEN_RENDERS[style, prompt, width, height, variant, quality]


def golden_edit(style: str) -> bytes:
    """An edit touching every step: a photo, a transparent second source and a third, as insets."""
    transparent = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(transparent).ellipse((50, 50, 150, 150), fill=(255, 255, 255, 255))
    sources = [encode(photo()), encode(transparent), encode(photo(300, 900), "JPEG")]
    return offline.edit(
        prompt="sunset over the sea", sources=sources, width=480, height=360, style=style, variant=1
    )


@pytest.mark.parametrize("style", GOLDEN_EDITS)
def test_edits_match_the_golden_pixels(style):
    assert pixel_hash(golden_edit(style)) == GOLDEN_EDITS[style]


@pytest.mark.parametrize(("image_format", "compression"), GOLDEN_ENCODED)
def test_encoded_edits_match_the_golden_pixels(image_format, compression):
    data = offline.encode_as(
        golden_edit("aurora"), image_format=image_format, compression=compression
    )

    assert decode(data).format == image_format.upper()
    assert pixel_hash(data) == GOLDEN_ENCODED[image_format, compression]


class CountingPool(ThreadPoolExecutor):
    """A real thread pool that remembers which of its threads drew, to prove the loop did not."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="test-offline")
        self.ran_in: list[str] = []

    def submit(self, fn, /, *args, **kwargs):
        def recorded():
            self.ran_in.append(threading.current_thread().name)
            return fn(*args, **kwargs)

        return super().submit(recorded)


def generate(**arguments) -> tuple[gateway.GatewayResult, list[str]]:
    with CountingPool() as pool:
        result = asyncio.run(
            offline.generate(
                **{"prompt": "a lighthouse at sunset", "width": 320, "height": 240, "variant": 1}
                | arguments,
                executor=pool,
            )
        )
    return result, pool.ran_in


def test_generate_answers_like_the_gateway_drawing_in_the_given_pool():
    result, ran_in = generate(model="offline/mosaic", params={"quality": "high"}, inputs=[])

    assert isinstance(result, gateway.GatewayResult) and result.cost == 0
    [image] = result.images
    assert image.revised_prompt == ""
    assert image.data == render(style="mosaic", variant=1, quality="high")
    assert len(ran_in) == 1 and ran_in[0].startswith("test-offline")


def test_generate_edits_the_inputs_in_the_requested_format():
    source = gateway.InputImage(data=encode(photo()), mime="image/png", filename="photo.png")
    params = {"output_format": "webp", "output_compression": 40}

    result, ran_in = generate(model="offline/blueprint", params=params, inputs=[source])

    expected = offline.edit(
        prompt="a lighthouse at sunset",
        sources=[source.data],
        width=320,
        height=240,
        style="blueprint",
        variant=1,
    )
    assert result.images[0].data == offline.encode_as(expected, image_format="webp", compression=40)
    assert decode(result.images[0].data).format == "WEBP"
    assert len(ran_in) == 1 and ran_in[0].startswith("test-offline")


def test_generate_waits_the_offline_delay_first(settings):
    settings.OFFLINE_RENDER_DELAY = 0.3

    result, _ = generate(model="offline/aurora", params={}, inputs=[], width=16, height=16)

    assert result.latency >= 0.3
