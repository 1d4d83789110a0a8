"""Issue 10, the answer side: a 4K image's answer (~25 MB of base64 in JSON) turned into image
bytes, the way the gateway did it (json.loads, whitespace stripped, base64.b64decode) against
gallery.answer_stream fed 64 KB chunks. Also pybase64 against base64 alone, json.loads alone,
how long one feed() holds the GIL, and peak memory of each way.

The two ways run interleaved, round by round, so a busy machine slows both alike: on a shared
machine the ratios are the figures to trust, the absolute times are under load.
"""

import base64
import functools
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pybase64

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import percentile, report

from gallery.answer_stream import AnswerReader

IMAGE_BYTES = 18_750_000  # a photographic 4K PNG; its base64 is 25 MB
CHUNK = 64 * 1024
ROUNDS = 9


class NullSink:
    def write(self, data: bytes) -> None:
        pass


def answer_body(image: bytes, *, style: str = "plain") -> bytes:
    text = base64.b64encode(image).decode()
    if style == "wrapped":  # MIME-style lines of 76, as some servers send
        text = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    body = json.dumps(
        {
            "created": 1_790_000_000,
            "data": [{"b64_json": text, "revised_prompt": "a lighthouse on a cliff at dawn"}],
            "usage": {"input_tokens": 20, "output_tokens": 4000, "cost": 0.04},
        }
    ).encode()
    return body.replace(b"/", b"\\/") if style == "escaped" else body


def old_way(body: bytes) -> bytes:
    """gallery/gateway.py before issue 10: the whole body parsed, then decoded in one go."""
    text = json.loads(body)["data"][0]["b64_json"]
    return base64.b64decode("".join(text.split()), validate=True)


def new_way(chunks: list[bytes], sink=None) -> int:
    reader = AnswerReader(lambda index: sink or NullSink())
    for chunk in chunks:
        reader.feed(chunk)
    return reader.close().images[0].size


def timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return (time.perf_counter() - started) * 1000


def interleaved(ways: dict, rounds: int = ROUNDS) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, (function, args) in ways.items():
            times[name].append(timed(function, *args))
    return {name: statistics.median(values) for name, values in times.items()}


def peak_mb(function, *args) -> float:
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main() -> int:
    image = random.Random(10).randbytes(IMAGE_BYTES)
    print(f"One answer: a {IMAGE_BYTES / 1e6:.2f} MB image, {CHUNK // 1024} KB chunks; ")
    print(f"median of {ROUNDS} interleaved rounds (2 shared cores: absolute times under load).")

    met = True
    targets = {"plain": 10, "escaped": 60, "wrapped": 100}
    for style, target in targets.items():
        body = answer_body(image, style=style)
        chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
        assert new_way(chunks) == len(old_way(body)) == IMAGE_BYTES
        medians = interleaved({"old": (old_way, (body,)), "new": (new_way, (chunks,))})
        print(f"Answer of {len(body) / 1e6:.1f} MB, base64 {style}:")
        print(f"  json.loads + b64decode (before): {medians['old']:.1f} ms")
        met &= report("answer_stream, 64 KB chunks", medians["new"], target)
        print(f"  -> {medians['old'] / medians['new']:.1f}x faster")

    body = answer_body(image)
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    text = base64.b64encode(image)
    medians = interleaved(
        {
            "base64": (functools.partial(base64.b64decode, validate=True), (text,)),
            "pybase64": (functools.partial(pybase64.b64decode, validate=True), (text,)),
            "json": (json.loads, (body,)),
        }
    )
    print(f"Decoding {len(text) / 1e6:.1f} MB of base64 in one call (validate=True):")
    print(f"  base64 {medians['base64']:.1f} ms, pybase64 {medians['pybase64']:.1f} ms, ", end="")
    print(f"{medians['base64'] / medians['pybase64']:.1f}x")
    print(f"json.loads of the {len(body) / 1e6:.1f} MB answer alone: {medians['json']:.1f} ms")

    with tempfile.TemporaryFile() as file:
        reader = AnswerReader(lambda index: file)
        holds = []
        for chunk in chunks:
            started = time.perf_counter()
            reader.feed(chunk)
            holds.append((time.perf_counter() - started) * 1e6)
        reader.close()
    print("One feed() of a 64 KB chunk, writing to a temporary file (the GIL is held throughout):")
    print(
        f"  median {statistics.median(holds):.0f} us, p99 {percentile(holds, 0.99):.0f} us, "
        f"max {max(holds):.0f} us (n={len(holds)})"
    )

    with tempfile.TemporaryFile() as file:
        new_peak = peak_mb(new_way, chunks, file)
    old_peak = peak_mb(old_way, body)
    print("Peak memory allocated while reading one answer (tracemalloc, body already held):")
    print(f"  before: {old_peak:.1f} MB")
    met &= report("answer_stream into a temporary file", new_peak, 1.0, "MB")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
