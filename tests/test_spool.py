"""Image answers streamed into temporary files (gallery/gateway/spool.py), against the loopback
gateway: where the bytes go while the answer arrives, that every file is gone afterwards however
the call ends, and that a big answer costs the client a bounded amount of memory."""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gallery.gateway import (
    GatewayConfig,
    GatewayError,
    GatewayResult,
    async_client,
    remove_stale_answers,
)
from gallery.gateway import generate_image as gateway_generate
from tests.fake_gateway import FakeGateway, photo_b64, photo_png, png_b64, png_bytes

BASE_DIR = Path(__file__).resolve().parent.parent
UHD = (3840, 2160)


@pytest.fixture
def fake():
    with FakeGateway() as server:
        yield server


@pytest.fixture
def spool_dir(tmp_path) -> Path:
    folder = tmp_path / "answers"
    folder.mkdir()
    return folder


def config_for(fake: FakeGateway, spool_dir: Path, **overrides) -> GatewayConfig:
    return GatewayConfig(
        base_url=fake.base_url, api_key=fake.api_key, temp_dir=str(spool_dir), **overrides
    )


def generate(config: GatewayConfig) -> GatewayResult:
    async def run() -> GatewayResult:
        async with async_client(config) as client:
            return await gateway_generate(
                client, config, model="gpt-image-2", prompt="a red fox", params={}
            )

    return asyncio.run(run())


def generate_error(config: GatewayConfig) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        generate(config)
    return caught.value


def answer_with(b64: str) -> dict:
    return {"created": 1, "data": [{"b64_json": b64, "revised_prompt": "r"}]}


def test_an_answer_is_streamed_to_a_temporary_file_removed_once_closed(fake, spool_dir):
    expected = png_bytes(1024, 1024, (10, 20, 30))
    fake.add_rule(body=answer_with(png_b64(1024, 1024, (10, 20, 30))))

    result = generate(config_for(fake, spool_dir))

    [image] = result.images
    [spooled] = spool_dir.iterdir()
    assert image.path == str(spooled)
    assert spooled.read_bytes() == expected
    assert (image.size, image.read(), image.revised_prompt) == (len(expected), expected, "r")
    with image.open() as file:
        assert file.read(8) == expected[:8]
    result.close()
    assert list(spool_dir.iterdir()) == []
    result.close()  # twice is harmless


def test_the_file_fills_while_the_answer_is_still_arriving(fake, spool_dir):
    body = json.dumps(answer_with(photo_b64(640, 480).decode())).encode()
    fake.add_rule(body=body, trickle=(64 * 1024, 0.05))  # ~0.5 MB over ~0.5 s
    outcome: list[GatewayResult] = []
    caller = threading.Thread(target=lambda: outcome.append(generate(config_for(fake, spool_dir))))
    caller.start()
    partial_sizes = set()
    while caller.is_alive():
        for spooled in spool_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                partial_sizes.add(spooled.stat().st_size)
        time.sleep(0.01)
    caller.join()

    [result] = outcome
    final = result.images[0].size
    # Written piece by piece as the body came in, not once at the end.
    assert len({size for size in partial_sizes if 0 < size < final}) >= 2
    result.close()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"response": "bad_base64"}, "The gateway's image data is not valid base64."),
        (
            {"body": b'{"data": [{"b64_json": "' + photo_b64(640, 480)[:300_000]},
            "The gateway's answer is cut short.",
        ),
        (
            {"body": b'{"data": [{"b64_json": "' + photo_b64(640, 480) + b'"}]} oops'},
            "The gateway's answer is not JSON; is the base URL right?",
        ),
        ({"response": "not_json"}, "The gateway's answer is not JSON; is the base URL right?"),
        ({"response": "gzip_bomb"}, "The gateway's answer is larger than the 48 MB limit."),
        (
            {"body": {"data": [{"b64_json": "AAAA"}], "error": {"b64_json": "AAAA"}}},
            None,  # succeeds: the stray second value's file is removed at once
        ),
    ],
    ids=[
        "bad-base64",
        "truncated-body",
        "broken-json-after-image",
        "not-json",
        "gzip-bomb",
        "stray",
    ],
)
def test_a_failed_answer_leaves_no_file(fake, spool_dir, rule, message):
    fake.add_rule(**rule)
    config = config_for(fake, spool_dir)

    if message is None:
        result = generate(config)
        assert len(list(spool_dir.iterdir())) == 1
        result.close()
    else:
        assert generate_error(config).message == message
    assert list(spool_dir.iterdir()) == []


def test_an_image_over_the_size_cap_is_refused_while_streaming(fake, spool_dir):
    fake.photo_size = (640, 480)
    config = config_for(fake, spool_dir, max_image_bytes=256 * 1024)

    error = generate_error(config)

    assert error.message == "The image is larger than the 0.25 MB limit."
    assert error.code == "too_large"
    assert list(spool_dir.iterdir()) == []


def test_an_answer_over_the_response_cap_is_refused(fake, spool_dir):
    fake.photo_size = (640, 480)  # ~0.5 MB of JSON

    error = generate_error(config_for(fake, spool_dir, max_response_bytes=200_000))

    assert error.code == "too_large"
    assert list(spool_dir.iterdir()) == []


def test_an_upstream_that_disconnects_mid_body_leaves_no_file(fake, spool_dir):
    body = json.dumps(answer_with(photo_b64(640, 480).decode())).encode()
    fake.add_rule(body=body, trickle=(64 * 1024, 0.05))
    outcome: list[GatewayError] = []

    def call():
        with pytest.raises(GatewayError) as caught:
            generate(config_for(fake, spool_dir))
        outcome.append(caught.value)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while not any(f.stat().st_size for f in spool_dir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert list(spool_dir.iterdir())  # half-way: the file is there
    fake.reset()  # drops the connection half-sent
    caller.join(timeout=5)

    assert outcome[0].message == "The gateway closed the connection without a complete answer."
    assert list(spool_dir.iterdir()) == []


def test_a_call_cut_off_by_its_deadline_mid_body_leaves_no_file(fake, spool_dir):
    body = json.dumps(answer_with(photo_b64(640, 480).decode())).encode()
    fake.add_rule(body=body, trickle=(16 * 1024, 0.05))  # ~2 s in all

    error = generate_error(config_for(fake, spool_dir, call_deadline=0.5))

    assert error.message == "The gateway did not finish answering within 0.5 s."
    time.sleep(0.1)  # a piece still being parsed when the deadline struck
    assert list(spool_dir.iterdir()) == []


def test_a_cancelled_call_leaves_no_file(fake, spool_dir):
    body = json.dumps(answer_with(photo_b64(640, 480).decode())).encode()
    fake.add_rule(body=body, trickle=(16 * 1024, 0.05))
    config = config_for(fake, spool_dir)

    async def run() -> None:
        async with async_client(config) as client:
            call = asyncio.create_task(
                gateway_generate(client, config, model="gpt-image-2", prompt="fox", params={})
            )
            while not list(spool_dir.iterdir()):
                await asyncio.sleep(0.005)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    asyncio.run(run())
    time.sleep(0.1)
    assert list(spool_dir.iterdir()) == []


# --- Memory -------------------------------------------------------------------------------------

_CLIENT = """
import asyncio, json, os
from gallery.gateway import GatewayConfig, async_client, generate_image

def peak_kb():
    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])

config = GatewayConfig(
    base_url=os.environ['FAKE_URL'], api_key=os.environ['FAKE_KEY'],
    temp_dir=os.environ['SPOOL_DIR'],
)

async def calls(n):
    async with async_client(config) as client:
        return await asyncio.gather(*(
            generate_image(client, config, model='gpt-image-2', prompt='p', params={})
            for _ in range(n)
        ))

asyncio.run(calls(1))  # warm up: imports, threads, the connection pool
before = peak_kb()
results = asyncio.run(calls(int(os.environ['CALLS'])))
grew = peak_kb() - before
sizes = [result.images[0].size for result in results]
for result in results:
    result.close()
print(json.dumps({'grew_kb': grew, 'sizes': sizes}))
"""


def _client_peak_growth(fake: FakeGateway, spool_dir: Path, calls: int) -> dict:
    """Make `calls` image calls at once in a fresh Python (the fake stays in this process) and
    report how much that process's peak memory grew meanwhile."""
    env = {
        **os.environ,
        "FAKE_URL": fake.base_url,
        "FAKE_KEY": fake.api_key,
        "SPOOL_DIR": str(spool_dir),
        "CALLS": str(calls),
    }
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT],
        capture_output=True,
        text=True,
        env=env,
        cwd=BASE_DIR,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("calls", [1, 4])
def test_a_big_answer_costs_the_client_little_memory_however_many_arrive(fake, spool_dir, calls):
    # A 3840x2160 photo: ~17 MB of PNG, ~23 MB of base64 JSON. Read whole, parsed and decoded at
    # once, one answer grew the client by ~65 MB (body, the JSON string, the decoded bytes), four
    # by four times that.
    fake.photo_size = UHD
    photo_b64(*UHD)

    result = _client_peak_growth(fake, spool_dir, calls)

    assert result["sizes"] == [len(photo_png(*UHD))] * calls
    assert result["grew_kb"] < 12_000
    assert list(spool_dir.iterdir()) == []


def test_files_left_by_a_killed_worker_are_removed_once_stale(spool_dir):
    stale = spool_dir / "studio-answer-abc123.img"
    fresh = spool_dir / "studio-answer-def456.img"
    other = spool_dir / "notes.img"
    for path in (stale, fresh, other):
        path.write_bytes(b"x")
    day_ago = time.time() - 86_400
    os.utime(stale, (day_ago, day_ago))
    os.utime(other, (day_ago, day_ago))

    assert remove_stale_answers(str(spool_dir)) == 1

    assert sorted(p.name for p in spool_dir.iterdir()) == ["notes.img", "studio-answer-def456.img"]
