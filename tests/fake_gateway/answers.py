"""What the fake answers: its default models, the gateway's error envelopes, and scripted rules
with their canned answers (see the package docstring for the list)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fake_gateway.images import bomb_png, gzip_bomb
from tests.fake_gateway.wire import (
    IMAGE_PATHS,
    RecordedRequest,
    Reply,
    body_reply,
    json_reply,
    path_matches,
)

if TYPE_CHECKING:
    from tests.fake_gateway.server import FakeGateway

DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "id": "gemini-3.1-flash-image-preview",
        "name": "Gemini 3.1 Flash Image (Preview)",
        "architecture": {
            "input_modalities": ["text", "image"],
            "output_modalities": ["text", "image"],
        },
    },
    {
        "id": "gpt-image-2",
        "name": "GPT Image 2",
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image"]},
    },
    {
        "id": "alibaba/qwen-image-plus",
        "name": "Qwen Image Plus",
        "architecture": {"input_modalities": ["text"], "output_modalities": ["image"]},
    },
    {
        "id": "gpt-4o-mini",
        "name": "GPT-4o mini",
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
    },
]
ERROR_DEFAULTS: dict[int, tuple[str, str, str]] = {  # status: (message, type, code)
    400: (
        "Invalid request parameters: prompt: Required",
        "invalid_request_error",
        "invalid_request",
    ),
    401: ("Invalid API key", "authentication_error", "invalid_api_key"),
    402: ("Insufficient credits: add credits to continue", "billing_error", "insufficient_credits"),
    403: ("This API key may not use this model", "permission_error", "forbidden"),
    404: ("Model not found", "invalid_request_error", "model_not_found"),
    413: ("Request entity too large", "invalid_request_error", "payload_too_large"),
    429: ("Rate limit exceeded, please retry later", "rate_limit_error", "rate_limited"),
    500: (
        "The model did not generate any images. "
        "Try a different model with image generation capabilities.",
        "server_error",
        "no_images",
    ),
    502: ("The upstream provider returned an error", "upstream_error", "upstream_error"),
    503: ("Service temporarily unavailable", "server_error", "unavailable"),
    504: ("The upstream provider timed out", "upstream_error", "upstream_timeout"),
}
CANNED_RESPONSES = frozenset(
    {
        "error_new",
        "error_old",
        "not_json",
        "empty_data",
        "bad_base64",
        "not_image",
        "bomb",
        "gzip_bomb",
        "nested_json",
        "echo_key",
        "url",
        "no_usage",
        "hang",
        "close",
    }
)
NESTED_JSON_DEPTH = 200_000


def request_problem(request: RecordedRequest) -> str:
    """The gateway's 400 message for a malformed image request, or ""."""
    params = request.params
    if request.json is not None and not isinstance(request.json, dict):
        return "Invalid request parameters: body must be a JSON object"
    if not isinstance(params.get("prompt"), str) or not params["prompt"].strip():
        return "Invalid request parameters: prompt: Required"
    if not request.path.endswith("/edits"):
        return ""
    if isinstance(request.json, dict):
        images = request.json.get("images")
        if not isinstance(images, list) or not images:
            return "Invalid request parameters: images: Required"
        for index, image in enumerate(images):
            url = image.get("image_url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url.startswith(("https://", "data:")):
                return f"images[{index}].image_url must be an https URL or a base64 data URL"
        return ""
    if not any(upload.field in ("image", "image[]", "file") for upload in request.files):
        return "Invalid request parameters: image: Required"
    return ""


def error_reply(status: int, envelope: str, body: str | dict | Any = None) -> Reply:
    message, kind, code = ERROR_DEFAULTS.get(
        status, (f"Request failed with status {status}", "server_error", "error")
    )
    if isinstance(body, str):
        message = body
    if envelope == "error_old":
        return json_reply(status, {"error": True, "status": status, "message": message})
    error = {"message": message, "type": kind, "param": None, "code": code}
    if isinstance(body, dict):
        error.update(body)
    return json_reply(status, {"error": error})


@dataclass
class Rule:
    model: str | None = None
    path: str | None = None
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = None
    response: str | None = None
    trickle: tuple[int, float] | None = None
    hits: int = 0

    def matches(self, request: RecordedRequest) -> bool:
        if self.path is None:
            if not (request.method == "POST" and request.path in IMAGE_PATHS):
                return False
        elif not path_matches(self.path, request.path):
            return False
        return self.model is None or self.model == request.model


def rule_reply(fake: FakeGateway, rule: Rule, request: RecordedRequest) -> Reply | str:
    """The reply a rule scripts, or "hang" / "close"."""
    if rule.response in ("hang", "close"):
        return rule.response
    if rule.response is None:
        if rule.body is None:
            reply = (
                json_reply(200, fake.success_body(request))
                if rule.status < 400
                else error_reply(rule.status, "error_new")
            )
        else:
            reply = body_reply(rule.status, rule.body)
    elif rule.response in ("error_new", "error_old"):
        status = rule.status if rule.status >= 400 else 400
        reply = error_reply(status, rule.response, rule.body)
    elif rule.response == "not_json":
        page = (
            rule.body if isinstance(rule.body, str) else "<html><body>Upstream hiccup</body></html>"
        )
        reply = Reply(rule.status, page.encode(), content_type="text/html; charset=utf-8")
    elif rule.response == "nested_json":
        depth = NESTED_JSON_DEPTH
        reply = Reply(rule.status, b"[" * depth + b"]" * depth)
    elif rule.response == "gzip_bomb":
        reply = Reply(rule.status, gzip_bomb(), headers={"Content-Encoding": "gzip"})
    else:
        reply = json_reply(rule.status, _canned_success(fake, rule, request))
    return Reply(
        reply.status,
        reply.body,
        content_type=rule.headers.get("Content-Type", reply.content_type),
        headers=reply.headers
        | {k: v for k, v in rule.headers.items() if k.lower() != "content-type"},
        trickle=rule.trickle,
    )


def _canned_success(fake: FakeGateway, rule: Rule, request: RecordedRequest) -> dict[str, Any]:
    body = fake.success_body(request, usage=rule.response != "no_usage")
    [item] = body["data"]
    match rule.response:
        case "empty_data":
            body["data"] = []
        case "bad_base64":
            item["b64_json"] = "this is not base64!!"
        case "not_image":
            item["b64_json"] = base64.b64encode(b"just some text, not an image").decode()
        case "bomb":
            item["b64_json"] = base64.b64encode(bomb_png()).decode()
        case "echo_key":
            item["revised_prompt"] = f"{item['revised_prompt']} (sent with key {fake.api_key})"
        case "url":
            png = base64.b64decode(item.pop("b64_json"))
            item["url"] = rule.body if isinstance(rule.body, str) else fake.https_url_for(png)
    return body
