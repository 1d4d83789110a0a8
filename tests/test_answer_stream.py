"""The streaming answer reader against the obvious reading: json.loads, then base64 on the whole
string, over many generated answers cut into chunks at every kind of boundary."""

import base64
import binascii
import io
import json
import random
import tempfile
import tracemalloc

import pytest

from gallery.answer_stream import (
    BLOCK_BYTES,
    MAX_TEXT_VALUE_BYTES,
    AnswerError,
    AnswerReader,
    StreamedImage,
)

NOT_JSON = "The gateway's answer is not valid JSON."
BAD_BASE64 = "The gateway's image data is not valid base64."
CUT_SHORT = "The gateway's answer is cut short."


def read(body: bytes, sizes=None, **options):
    """Feed `body` in chunks of the given sizes (cycled; whole when None); the parsed answer and
    the bytes each sink received."""
    sinks: list[io.BytesIO] = []

    def open_sink(index: int) -> io.BytesIO:
        assert index == len(sinks)
        sinks.append(io.BytesIO())
        return sinks[-1]

    reader = AnswerReader(open_sink, **options)
    pos, turn = 0, 0
    while pos < len(body):
        size = len(body) if sizes is None else sizes[turn % len(sizes)]
        reader.feed(body[pos : pos + size])
        pos, turn = pos + size, turn + 1
    return reader.close(), [sink.getvalue() for sink in sinks]


def with_images(payload, images: list[bytes]):
    """The payload with each StreamedImage swapped for the bytes its sink received."""
    if isinstance(payload, StreamedImage):
        assert payload.size == len(images[payload.index])
        return images[payload.index]
    if isinstance(payload, dict):
        return {key: with_images(value, images) for key, value in payload.items()}
    if isinstance(payload, list):
        return [with_images(value, images) for value in payload]
    return payload


def obvious_reading(body: bytes):
    """What the gateway did before: the whole body through json.loads, each b64_json through
    base64 once its data: prefix and whitespace are gone."""

    def decoded(text: str) -> bytes:
        if text.startswith("data:"):
            text = text.partition(",")[2]
        return base64.b64decode("".join(text.split()), validate=True)

    def walk(value):
        if isinstance(value, dict):
            return {
                key: decoded(item) if key == "b64_json" and isinstance(item, str) else walk(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(json.loads(body))


def random_text(rng: random.Random, length: int) -> str:
    alphabet = 'ab "\\/\n\té€😀\u2028{}[],:'
    return "".join(rng.choice(alphabet) for _ in range(length))


def random_answer(rng: random.Random) -> bytes:
    """A gateway-like answer: 1-3 images of awkward sizes, base64 plain, wrapped, with a data:
    prefix or escaped slashes; text with quotes, backslashes and non-ASCII; any JSON layout."""
    items = []
    for _ in range(rng.randint(1, 3)):
        size = rng.choice(
            [0, 1, 2, 3, rng.randint(4, 3000), BLOCK_BYTES * 3 // 4 + rng.randint(-3, 3)]
        )
        text = base64.b64encode(rng.randbytes(size)).decode()
        if rng.random() < 0.3:
            width = rng.choice([64, 76, 1000])
            text = rng.choice(["\n", "\r\n", " "]).join(
                text[i : i + width] for i in range(0, len(text), width)
            )
        if rng.random() < 0.3:
            text = "data:image/png;base64," + text
        item = {"b64_json": text}
        if rng.random() < 0.7:
            item["revised_prompt"] = random_text(rng, rng.randint(0, 40))
        if rng.random() < 0.2:
            item["url"] = "https://example.com/a.png"
        items.append(item)
    payload = {"created": rng.randint(0, 2**31), "data": items}
    if rng.random() < 0.8:
        payload["usage"] = {"total_tokens": 10, "cost": rng.choice([0.04, 1, "0.05", None])}
    body = json.dumps(
        payload, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2])
    ).encode()
    if rng.random() < 0.3:
        body = body.replace(b"/", b"\\/")  # legal JSON, PHP's default
    return body


def random_sizes(rng: random.Random, length: int) -> list[int]:
    return [
        rng.choice([1, 2, 3, 5, 7, rng.randint(1, 5000), rng.randint(1, length + 1)])
        for _ in range(50)
    ]


def test_random_answers_read_in_random_chunks_match_the_obvious_reading():
    rng = random.Random(20261130)
    for _ in range(300):
        body = random_answer(rng)
        expected = obvious_reading(body)
        for sizes in (None, [1], random_sizes(rng, len(body))):
            if sizes == [1] and len(body) > 20_000:
                sizes = [1, 2, 3]  # byte by byte is the same test, only slower
            answer, images = read(body, sizes)
            assert with_images(answer.payload, images) == expected
            assert len(answer.images) == len(expected["data"])


def test_every_split_of_an_escape_or_base64_group_reads_the_same():
    """Two chunks, cut at every byte of an answer dense with escapes and text around the image."""
    image = bytes(range(256)) * 3
    payload = {
        "revised_prompt": 'say "hi" \\ \u00e9\U0001f600',
        "data": [{"b64_json": base64.b64encode(image).decode()}],
        "b64\u005fjson note": '\\\\\\"',
    }
    body = json.dumps(payload).replace("/", "\\/").encode()
    expected = obvious_reading(body)
    for cut in range(len(body) + 1):
        answer, images = read(body, [cut or 1, len(body)])
        assert with_images(answer.payload, images) == expected


def test_a_big_image_streams_to_a_file_and_the_small_fields_are_kept():
    image = random.Random(1).randbytes(3 * BLOCK_BYTES + 5)
    body = json.dumps(
        {
            "created": 1,
            "data": [{"b64_json": base64.b64encode(image).decode(), "revised_prompt": "a cat"}],
            "usage": {"cost": 0.04},
        }
    ).encode()
    with tempfile.TemporaryFile() as file:
        reader = AnswerReader(lambda index: file)
        for start in range(0, len(body), 65536):
            reader.feed(body[start : start + 65536])
        answer = reader.close()
        file.seek(0)
        assert file.read() == image
    assert answer.payload["usage"]["cost"] == 0.04
    assert answer.data == [{"b64_json": StreamedImage(0, len(image)), "revised_prompt": "a cat"}]


def test_an_escaped_key_is_still_the_image_key():
    answer, images = read(b'{"data": [{"b64\\u005fjson": "aGk="}]}', [1])
    assert images == [b"hi"]
    assert answer.data == [{"b64_json": StreamedImage(0, 2)}]


def test_only_a_value_of_the_image_key_is_an_image():
    body = b'{"data": [{"b64_json": "aGk="}], "notes": ["b64_json", "aGk="], "b64_json": 1}'
    answer, images = read(body, [1])
    assert images == [b"hi"]
    assert answer.payload["notes"] == ["b64_json", "aGk="]
    assert answer.payload["b64_json"] == 1


def test_an_error_envelope_is_read_like_any_answer():
    body = b'{"error": {"message": "Invalid \\"size\\"", "code": "invalid_request"}}'
    answer, images = read(body, [3])
    assert answer.payload == json.loads(body)
    assert images == []
    assert answer.data is None


def test_a_text_that_looks_like_a_placeholder_stays_text():
    answer, _ = read(b'{"data": [{"b64_json": "aGk=", "revised_prompt": "i0"}], "x": "t0"}')
    assert answer.payload["data"][0]["revised_prompt"] == "i0"
    assert answer.payload["x"] == "t0"


def test_a_long_text_value_is_clipped_on_a_whole_character():
    # The clip point lands inside an escape and inside a 4-byte character, in turn.
    for text in ("\\" * MAX_TEXT_VALUE_BYTES, "ab" + "😀" * MAX_TEXT_VALUE_BYTES):
        body = json.dumps({"revised_prompt": text, "data": []}, ensure_ascii=False).encode()
        answer, _ = read(body, [1000])
        clipped = answer.payload["revised_prompt"]
        assert text.startswith(clipped)
        raw_length = len(json.dumps(clipped, ensure_ascii=False).encode()) - 2
        assert MAX_TEXT_VALUE_BYTES - 4 <= raw_length <= MAX_TEXT_VALUE_BYTES


@pytest.mark.parametrize(
    "value",
    [
        "aGk",  # cut short of a 4-character group
        "aG!k",
        "aGk=aGk=",  # data after padding
        "aGk\\u00e9",  # non-ASCII
        "aGk=\\\\",  # an escaped backslash
    ],
)
def test_bad_base64_is_refused_as_base64_would_refuse_it(value):
    with pytest.raises((binascii.Error, ValueError)):
        obvious_reading(f'{{"data": [{{"b64_json": "{value}"}}]}}'.encode())
    for sizes in (None, [1]):
        with pytest.raises(AnswerError) as caught:
            read(f'{{"data": [{{"b64_json": "{value}"}}]}}'.encode(), sizes)
        assert (caught.value.message, caught.value.code) == (BAD_BASE64, "bad_image_data")


def test_a_data_url_without_its_comma_is_refused():
    # The obvious reading found an empty image there, which the gateway refused too.
    assert obvious_reading(b'{"data": [{"b64_json": "data:aGk="}]}')["data"][0]["b64_json"] == b""
    with pytest.raises(AnswerError, match="not valid base64"):
        read(b'{"data": [{"b64_json": "data:aGk="}]}')


def test_bad_base64_after_the_first_block_is_refused():
    clean = base64.b64encode(bytes(BLOCK_BYTES)).decode()
    for bad in (clean + "=" + clean, clean + "!", clean + "aGk"):
        with pytest.raises(AnswerError, match="not valid base64"):
            read(f'{{"data": [{{"b64_json": "{bad}"}}]}}'.encode(), [4096])


def test_base64_going_on_after_a_block_that_ended_in_padding_is_refused():
    opening = b'{"data": [{"b64_json": "'
    padded = base64.b64encode(bytes(BLOCK_BYTES // 4 * 3 - 1))  # exactly one block, "=" last
    assert len(padded) == BLOCK_BYTES
    for sizes in ([len(opening), BLOCK_BYTES], [len(opening), BLOCK_BYTES, BLOCK_BYTES]):
        with pytest.raises(AnswerError, match="not valid base64"):
            read(opening + padded + padded + b'"}]}', sizes)
    assert read(opening + padded + b'"}]}', [len(opening), BLOCK_BYTES])[1] == [bytes(49151)]


def test_a_raw_line_break_inside_the_image_string_is_broken_json_as_for_json_loads():
    body = b'{"data": [{"b64_json": "aGk=\naGk="}]}'
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(AnswerError, match="not valid JSON"):
        read(body)


def test_every_cut_short_answer_is_refused_unless_json_loads_takes_it():
    body = json.dumps(
        {
            "created": 1,
            "data": [{"b64_json": "aGVsbG8=", "revised_prompt": 'a "b"'}],
            "usage": {"cost": 1},
        }
    ).encode()
    for end in range(len(body)):
        with pytest.raises(AnswerError) as caught:
            read(body[:end], [1])
        assert caught.value.message in (CUT_SHORT, NOT_JSON, "The gateway's answer is empty.")


def test_an_answer_cut_inside_a_big_image_is_cut_short():
    body = json.dumps({"data": [{"b64_json": base64.b64encode(bytes(300_000)).decode()}]}).encode()
    for end in (30, 100_000, len(body) - 4):
        with pytest.raises(AnswerError, match="cut short"):
            read(body[:end], [65536])


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"data": []}}',
        b'{"data": [] "x": 1}',
        b'{"data": ["\xff\xfe"]}',
        b'{"data": [{"b64_json": "aGk="}]} trailing',
        b'{"a": "\\x"}',
    ],
)
def test_what_is_not_json_is_a_clear_error(body):
    with pytest.raises(AnswerError) as caught:
        read(body, [1])
    assert caught.value.message in (NOT_JSON, "The gateway's answer is empty.")


@pytest.mark.parametrize("opening", [b"[", b'{"a":', b'{"data": [{"b64_json": "aGk=", "x": ['])
def test_deep_nesting_is_refused_without_a_recursion_error(opening):
    body = opening * 100_000
    with pytest.raises(AnswerError, match="nested too deeply"):
        read(body, [65536])
    json.loads(b"[" * 32 + b"]" * 32)  # a depth json.loads and the reader both take
    read(b"[" * 32 + b"]" * 32)


def test_too_many_images_and_too_big_an_image_are_refused():
    body = json.dumps({"data": [{"b64_json": "aGk="}] * 17}).encode()
    with pytest.raises(AnswerError, match="more than 16 images"):
        read(body)
    body = json.dumps({"data": [{"b64_json": base64.b64encode(bytes(200_001)).decode()}]}).encode()
    with pytest.raises(AnswerError) as caught:
        read(body, [65536], max_image_bytes=200_000)
    assert caught.value.code == "too_large"
    assert read(body, [65536], max_image_bytes=200_001)[0].images[0].size == 200_001


def test_a_huge_skeleton_is_refused():
    body = b'{"data": [], "pad": [' + b"1," * 600_000 + b"1]}"
    with pytest.raises(AnswerError, match="more text than the studio reads"):
        read(body, [65536])


def test_memory_stays_bounded_while_a_4k_sized_image_streams_to_a_file():
    """A 25 MB answer: the reader's own allocations stay well under 1 MB at their peak."""
    image = random.Random(2).randbytes(18_700_000)
    body = json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(image).decode()}]})
    body = body.encode()
    del image
    with tempfile.TemporaryFile() as file:
        tracemalloc.start()
        try:
            reader = AnswerReader(lambda index: file)
            view = memoryview(body)
            for start in range(0, len(body), 65536):
                reader.feed(view[start : start + 65536])
            answer = reader.close()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert answer.images[0].size == 18_700_000
        assert file.tell() == 18_700_000
    assert peak < 1024 * 1024, f"peak {peak / 1024:.0f} KB"
