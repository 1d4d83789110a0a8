"""The studio's OpenAI-compatible API at /v1: the gateway's protocol (../shared/GATEWAY.md),
spoken by the studio itself with members' tokens, so every call is a run in the team gallery.

Each call is authenticated by its token (api/tokens.py), read with the prompt box's own form
(api/requests.py), started by the same service as Generate (gallery.services.run_start: catalog
mapping, pricing, the team's allowlist, quotas and budget), made by the worker, and answered when
its images are stored (api/answers.py). The views are async and wait on the push hub, not in a
polling loop; under uvicorn, as the studio's middleware is synchronous, each call in flight keeps
one thread of its own parked meanwhile (Django gives each request its own), so a slow call never
holds up pages or other calls. Under a WSGI server each call occupies a worker thread.
"""

import json
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import FileResponse, Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from api import answers, inputs, rate_limit, streaming, tokens
from api.errors import ApiError, error_response
from api.requests import ImagesRequest, read_images_request
from gallery import edits, files, media, services
from gallery.models import Image
from gallery.views import offered_models
from team import services as team_services
from team.signin_limit import client_address

logger = logging.getLogger(__name__)

# A generation request is a prompt and a few settings: anything much bigger is not one.
MAX_JSON_BYTES = 1024 * 1024


def api_view(*methods: str):
    """A /v1 view: no session, no CSRF, only `methods`; every refusal in the error envelope."""

    def decorate(view):
        async def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                return error_response(
                    ApiError(405, f"Use {' or '.join(methods)} here.", code="method_not_allowed")
                )
            try:
                return await view(request, *args, **kwargs)
            except ApiError as error:
                return error_response(error)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return csrf_exempt(login_not_required(wrapped))

    return decorate


def _authenticate_and_admit(presented: str, address: str | None) -> tokens.Caller:
    """The caller, once their token is checked and this request fits its rate limit."""
    try:
        caller = tokens.token_authenticate(presented=presented, address=address)
    except tokens.TokenRefused as refused:
        status = 429 if refused.rate_limited else 401
        raise ApiError(
            status, refused.message, code=refused.code, retry_after=refused.retry_after or None
        ) from None
    try:
        rate_limit.request_admit(token=caller.token)
    except rate_limit.RateLimited as refused:
        raise ApiError(
            429, refused.message, code="rate_limit_exceeded", retry_after=refused.retry_after
        ) from None
    return caller


async def _caller(request) -> tokens.Caller:
    presented = tokens.presented_token(request.headers)
    return await sync_to_async(_authenticate_and_admit)(presented, client_address(request))


def _content_length(request, *, limit: int) -> None:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not (length.isascii() and length.isdigit()):
        raise ApiError(400, "The Content-Length header is not a number.", code="invalid_length")
    if int(length) > limit:
        raise ApiError(413, f"The request is larger than {limit // 1024:,} KB.", code="too_large")


def _json_body(request, *, limit: int = MAX_JSON_BYTES) -> object:
    _content_length(request, limit=limit)
    # Read from the stream, not request.body: an edit's data URLs pass Django's 2.5 MB limit for
    # bodies read whole, and `limit` is this endpoint's own.
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"The request is larger than {limit // 1024:,} KB.", code="too_large")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if not _storable(body):
        # JSON can carry what no database column takes: a lone surrogate ("\ud800"), a NUL.
        raise ApiError(
            400,
            "The request has text that is not valid Unicode, or a NUL character.",
            code="invalid_text",
        )
    return body


def _storable(body) -> bool:
    """No string in the body (keys included) has a lone surrogate or a NUL character. A loop,
    not recursion: the body may nest as deep as the JSON reader allowed."""
    pending = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
            if "\x00" in value:
                return False
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
    return True


def _start(caller: tokens.Caller, parsed: ImagesRequest, *, sources=()):
    try:
        return services.run_start(
            user=caller.user,
            prompt=parsed.prompt,
            specs=parsed.specs,
            choice=parsed.choice,
            count=parsed.count,
            compare=False,
            sources=sources,
            private=caller.token.private_runs,
            api_token_name=caller.token.name,
        )
    except team_services.ModelNotAllowed as refused:
        raise ApiError(403, refused.message, param="model", code="model_not_allowed") from None
    except team_services.QuotaExceeded as refused:
        retry_after = None
        if refused.resets_at is not None:
            retry_after = (refused.resets_at - timezone.now()).total_seconds()
        raise ApiError(
            429, refused.message, code="quota_exceeded", retry_after=retry_after
        ) from None
    except team_services.RunRefused as refused:
        raise ApiError(403, refused.message, code="run_refused") from None


async def _answer(request, run, parsed: ImagesRequest, *, edit: bool = False):
    if parsed.stream:
        return streaming.event_stream(
            request, run, response_format=parsed.response_format, edit=edit
        )
    images = await answers.images_when_stored(request, run)
    return await sync_to_async(answers.answer_response)(
        request, run, images, response_format=parsed.response_format
    )


@api_view("POST")
async def images_generations(request):
    """POST /v1/images/generations: a run of `n` images of one model, answered when stored."""
    caller = await _caller(request)
    body = _json_body(request)
    offered = await sync_to_async(offered_models)()
    parsed = await sync_to_async(read_images_request)(body, offered=offered)
    run = await sync_to_async(_start)(caller, parsed)
    return await _answer(request, run, parsed)


def _multipart(request) -> tuple[dict, list]:
    """An OpenAI-style multipart edit: its text fields and its files."""
    _content_length(request, limit=edits.MAX_UPLOAD_REQUEST_BYTES)
    try:
        fields = request.POST.dict()
        files = inputs.multipart_files(request)
    except RequestDataTooBig:
        raise ApiError(413, "The form's text fields are too large.", code="too_large") from None
    except (MultiPartParserError, SuspiciousOperation) as exc:
        raise ApiError(
            400, f"The multipart form could not be read: {exc}", code="invalid_form"
        ) from None
    if not _storable(fields):
        raise ApiError(400, "The form has a NUL character or text that is not Unicode.")
    return fields, files


@api_view("POST")
async def images_edits(request):
    """POST /v1/images/edits: a run editing the images sent (JSON or multipart)."""
    caller = await _caller(request)
    if request.content_type == "multipart/form-data":
        body, files = await sync_to_async(_multipart)(request)
        sources = await inputs.multipart_sources(caller.user, files)
    else:
        body = _json_body(request, limit=edits.MAX_UPLOAD_REQUEST_BYTES)
        sources = await inputs.json_sources(caller.user, body)
    offered = await sync_to_async(offered_models)()
    parsed = await sync_to_async(read_images_request)(
        body, offered=offered, sources=sources, edit=True
    )
    run = await sync_to_async(_start)(caller, parsed, sources=sources)
    return await _answer(request, run, parsed, edit=True)


def _model_entry(spec) -> dict:
    inputs = ["text", "image"] if spec.accepts_images else ["text"]
    entry = {
        "id": spec.id,
        "object": "model",
        "created": 0,
        "owned_by": spec.provider or "studio",
        "name": spec.label,
        "architecture": {"input_modalities": inputs, "output_modalities": ["image"]},
    }
    if spec.price is not None:
        entry["pricing"] = {"image": str(spec.price)}
    return entry


@api_view("GET")
async def models(request):
    """GET /v1/models: the image models this member may use (the team's allowlist applied)."""
    await _caller(request)
    offered = await sync_to_async(offered_models)()
    return JsonResponse({"object": "list", "data": [_model_entry(s) for s in offered.values()]})


def _stored_image(image_id: int) -> Image:
    image = (
        Image.objects.filter(
            pk=image_id,
            status=Image.Status.SUCCEEDED,
            deleted_at__isnull=True,
            run__deleted_at__isnull=True,
        )
        .exclude(file="")
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    return image


@csrf_exempt
@login_not_required
def image_file(request, signed: str):
    """An image's original by the signed link a `response_format=url` answer gave: the link is
    the permission, for API_URL_SECONDS."""
    image_id = answers.image_for_url(signed)
    if image_id is None:
        return error_response(
            ApiError(
                404,
                f"This image link is broken or older than {settings.API_URL_SECONDS} seconds.",
                code="link_expired",
            )
        )
    try:
        image = _stored_image(image_id)
    except Http404:
        return error_response(ApiError(404, "No such image.", code="not_found"))
    try:
        opened = files.open_stream(image.file.name)
    except files.FileMissing as missing:
        return error_response(ApiError(404, missing.message, code="file_missing"))
    except files.StorageError as failed:
        return error_response(
            ApiError(503, failed.message, code="storage_unavailable", retry_after=5)
        )
    response = FileResponse(opened, content_type=media.mime_type(image.format))
    if opened.size is not None:
        response["Content-Length"] = str(opened.size)
    response["Cache-Control"] = "private, max-age=300"
    return response
