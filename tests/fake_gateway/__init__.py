"""A real loopback HTTP server that speaks the image gateway's protocol (see GATEWAY.md).

Tests, benchmarks and browser tests talk to it over real sockets instead of patching httpx:

    with FakeGateway() as fake:
        config = GatewayConfig(base_url=fake.base_url, api_key=fake.api_key)
        ...                                    # call the code under test
        [call] = fake.calls(path="images/generations", model="gpt-image-2")
        assert call.json["n"] == 1

What it answers by default
    POST /v1/images/generations, /v1/images/edits   200 with one real PNG (b64_json), a
        revised_prompt ("A picture of <prompt>") and usage.cost (`fake.cost`, default 0.01; None
        leaves usage out). The PNG's size follows the request: `aspect_ratio` (+ `image_size`
        tier 0.5K/1K/2K/4K, default 1K; 1K is about one megapixel) wins over `size` "WxH", as on
        the real gateway; otherwise 1024x1024. It is one flat colour, picked from model + prompt
        so different prompts give different images (`png_bytes`; an indexed PNG, so it costs
        microseconds even at 4K). A missing prompt, or an edit without (valid) input images, gets
        the gateway's 400 in the older envelope.
    GET /v1/models   {"data": fake.models} (DEFAULT_MODELS: three image models, one text model).
    A wrong or missing key gets 401 in the current envelope; unknown paths get 404.
    `fake.default_delay` seconds pass before every image call is answered (default 0).
    `FakeGateway(photo_size=(3840, 2160))` (or `fake.photo_size = ...`) answers every image
    call with one photo-like PNG of that size instead (`photo_png`: noisy gradients that
    compress and decode like a photograph; 3840x2160 ~17 MB, 4096x4096 ~35 MB, ~23 and ~47 MB
    as base64 JSON), made once and cached on disk: big answers for benchmarks and tests.

Scripting faults: `fake.add_rule(...)`
    The first rule whose `model` and `path` match (None = any model; path None = any image call,
    use path="models" for the model list) and that has `times` left (None = forever) decides the
    answer, after `delay` seconds (on top of `default_delay`). Paths match on their end, so
    "edits", "images/edits" and "/v1/images/edits" are the same. Without `response=`, the rule
    answers `status` with `body` (dict/list as JSON, str as text, bytes raw; None gives a normal
    success for 200 and the current error envelope with a stock message otherwise) plus
    `headers`, e.g. add_rule(status=429, headers={"Retry-After": "1"}, times=1).
    `trickle=(n, seconds)` sends the rule's answer (any of them) slowly: the status line and
    headers at once, then the body n bytes at a time with `seconds` before each piece, until it
    is done or reset() / stop() drops the connection.

    Canned answers, by name (`response=`):
        error_new    {"error": {"message", "type", "param", "code"}}; status 400 unless given;
                     body str = the message, body dict = fields of the error object
        error_old    {"error": true, "status": ..., "message": ...}; same status/body rules
        not_json     an HTML page (status 200 unless given; body str replaces the page)
        empty_data   200 with "data": [] (what a content filter looks like)
        bad_base64   200 with b64_json that is not base64
        not_image    200 with valid base64 of bytes that are not an image
        bomb         200 with a tiny PNG whose header declares 30000x30000 pixels
        gzip_bomb    200 (or `status`), Content-Encoding: gzip: about 0.5 MB on the wire that inflates
                     to a 512 MB image answer ({"data": [{"b64_json": "AAAA…"}]}); `gzip_bomb()`
        nested_json  200 (or `status`) with 200,000 nested JSON arrays ("[[[…]]]"), for any path
        echo_key     200 success whose revised_prompt repeats the API key
        url          200 with data[].url: body str is the URL, else an https URL on the
                     built-in HTTPS image host (started on demand) serving the usual PNG
        no_usage     200 success without "usage"
        hang         never answers (until reset() or stop(); then the connection drops); a
                     client that closes the connection meanwhile is recorded in
                     `fake.abandoned()` as (request, perf_counter time the close was seen)
        close        drops the connection without answering

HTTPS image host (for data[].url): `start_https()` serves registered bytes over TLS on
127.0.0.1 with a throwaway `trustme` CA; `https_url_for(data)` registers bytes and returns their
URL (host "localhost" by default, so TLS checks the name via SNI; `trickle=` seconds sends the
body one byte at a time, a host that never quite stops); `ssl_context` is a client context
trusting the CA (pass it as GatewayConfig.verify). `https_requests` records its requests.

Every request is recorded (`fake.requests`, `fake.calls(path=..., model=...)`) as a
RecordedRequest: method, path, lower-case headers, json body or multipart fields/files
(UploadedFile), raw body, received_at (time.perf_counter(), comparable with the caller's clock),
and the `.model` / `.params` it carried. `fake.reset()` forgets rules and requests.

Each connection gets its own thread (HTTP/1.1 keep-alive), so hundreds of slow requests are
answered at once rather than one after another.

Standalone, for benchmarks and manual use:
    python -m tests.fake_gateway --port 8765 --delay 1.0

Its parts, read top-down: `server` (FakeGateway: life cycle, scripting, routing), `answers`
(default models, error envelopes, rules and canned answers), `images` (png_bytes and the bombs),
`https_host` (the HTTPS image host), `wire` (recorded requests, replies, body parsing),
`plumbing` (the threaded HTTP/1.1 server) and `__main__` (standalone). Import from the package.
"""

from tests.fake_gateway.answers import (
    CANNED_RESPONSES,
    DEFAULT_MODELS,
    ERROR_DEFAULTS,
    NESTED_JSON_DEPTH,
    Rule,
    error_reply,
    request_problem,
)
from tests.fake_gateway.images import (
    GZIP_BOMB_BYTES,
    MAX_SIDE,
    PNG_SIGNATURE,
    TIER_SIDES,
    bomb_png,
    colour_for,
    gzip_bomb,
    image_size_for,
    photo_b64,
    photo_png,
    png_b64,
    png_bytes,
)
from tests.fake_gateway.server import DEFAULT_API_KEY, HANG_SECONDS, FakeGateway
from tests.fake_gateway.wire import (
    IMAGE_PATHS,
    RecordedRequest,
    Reply,
    UploadedFile,
    body_reply,
    json_reply,
    parse_body,
    parse_multipart,
    path_matches,
)

__all__ = [
    "CANNED_RESPONSES",
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "ERROR_DEFAULTS",
    "GZIP_BOMB_BYTES",
    "HANG_SECONDS",
    "IMAGE_PATHS",
    "MAX_SIDE",
    "NESTED_JSON_DEPTH",
    "PNG_SIGNATURE",
    "TIER_SIDES",
    "FakeGateway",
    "RecordedRequest",
    "Reply",
    "Rule",
    "UploadedFile",
    "body_reply",
    "bomb_png",
    "colour_for",
    "error_reply",
    "gzip_bomb",
    "image_size_for",
    "json_reply",
    "parse_body",
    "parse_multipart",
    "path_matches",
    "photo_b64",
    "photo_png",
    "png_b64",
    "png_bytes",
    "request_problem",
]
