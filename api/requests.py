"""Reading an images request sent to the studio's API into what the prompt box would have sent.

The body is checked for shape and types here (each problem a 400 naming its parameter); what the
values mean (which models are offered, which sizes, ratios, tiers and qualities a model takes,
the prompt's rules) is decided by the prompt box's own form, GenerateForm, against the same
catalog and allowlist, so a call and a press of Generate cannot disagree.
"""

import dataclasses
from dataclasses import dataclass

from django.utils.datastructures import MultiValueDict

from api.errors import ApiError, bad_param
from gallery import catalog
from gallery.catalog import Choice, ModelSpec
from gallery.forms import MAX_IMAGES, GenerateForm
from studio import params

RESPONSE_FORMATS = ("b64_json", "url")
STYLES = ("vivid", "natural")
MODERATION = catalog.MODERATION_LEVELS
SERVICE_TIERS = ("auto", "default", "flex", "priority")
# The form's field for each request parameter whose name differs.
FORM_FIELD_PARAMS = {"count": "n", "resolution": "image_size"}


@dataclass(frozen=True)
class ImagesRequest:
    prompt: str
    specs: list[ModelSpec]
    choice: Choice
    count: int
    response_format: str
    stream: bool


def _text(body: dict, name: str, allowed: tuple[str, ...] = ()) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_param(name, f"`{name}` must be a string.", code="invalid_type")
    if allowed and value not in allowed:
        raise bad_param(name, f"`{name}` must be one of: {', '.join(allowed)}; got {value!r}.")
    return value


def _whole_number(body: dict, name: str, *, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        # Multipart forms send numbers as text: read by the studio's one parser of numbers.
        try:
            return params.parse_int(value.strip(), minimum=low, maximum=high, what=f"`{name}`")
        except params.BadParameter as exc:
            raise bad_param(name, exc.message) from None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_param(name, f"`{name}` must be a whole number from {low} to {high}.")
    return value


def _flag(body: dict, name: str) -> bool:
    value = body.get(name)
    if value in (None, False, "false", "0", ""):
        return False
    if value in (True, "true", "1"):
        return True
    raise bad_param(name, f"`{name}` must be true or false.", code="invalid_type")


def _model_id(body: dict, *, offered: dict[str, ModelSpec], edit: bool) -> str:
    """The offered model the request names (by id or alias), the default for none or "auto";
    a model the team's allowlist leaves out is a 403, one nobody offers a 400."""
    name = _text(body, "model")
    if name in ("", "auto"):
        defaults = catalog.default_model_ids(offered, edit=edit)
        if not defaults:
            raise bad_param("model", "No model is offered for this request.", code="no_model")
        return defaults[0]
    for spec in offered.values():
        if name == spec.id or name in spec.aliases:
            return spec.id
    for spec in catalog.available_models().values():
        if name == spec.id or name in spec.aliases:
            raise ApiError(
                403,
                f"Your team does not allow the model `{name}`: ask an admin to add it on the "
                "Team page, or pick one from GET /v1/models.",
                param="model",
                code="model_not_allowed",
            )
    raise ApiError(
        400,
        f"The model `{name}` is not offered by this studio: GET /v1/models lists those you may "
        "use.",
        param="model",
        code="model_not_found",
    )


def read_images_request(
    body, *, offered: dict[str, ModelSpec], sources=(), edit: bool = False
) -> ImagesRequest:
    """The request as the prompt box's form reads it, or ApiError naming what is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    prompt = body.get("prompt")
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        raise bad_param(
            "prompt", "`prompt` is required: describe the image you want.", code="missing"
        )
    if not isinstance(prompt, str):
        raise bad_param("prompt", "`prompt` must be a string.", code="invalid_type")
    model_id = _model_id(body, offered=offered, edit=edit)
    count = _whole_number(body, "n", low=1, high=MAX_IMAGES) or 1
    compression = _whole_number(body, "output_compression", low=0, high=100)
    size = _text(body, "size")
    ratio = _text(body, "aspect_ratio")
    if size not in ("", "auto") and catalog.parse_size(size) is None:
        raise bad_param(
            "size", f"`size` must be WIDTHxHEIGHT (like 1024x1536) or auto; got {size!r}."
        )
    if ratio not in ("", "auto") and catalog.ratio_value(ratio) is None:
        raise bad_param(
            "aspect_ratio", f"`aspect_ratio` must be like 16:9 (or auto); got {ratio!r}."
        )
    extras = {
        "background": _text(body, "background", catalog.EDIT_PARAMS["background"]),
        "output_format": _text(body, "output_format", catalog.EDIT_PARAMS["output_format"]),
        "input_fidelity": _text(body, "input_fidelity", catalog.EDIT_PARAMS["input_fidelity"]),
        "moderation": _text(body, "moderation", MODERATION),
        "style": _text(body, "style", STYLES),
        "service_tier": _text(body, "service_tier", SERVICE_TIERS),
    }
    # "auto" and "default" are OpenAI's words for the standard tier: none is sent.
    service_tier = extras["service_tier"] if extras["service_tier"] in ("flex", "priority") else ""
    response_format = _text(body, "response_format", RESPONSE_FORMATS) or "b64_json"
    stream = _flag(body, "stream")
    data = {
        "prompt": [prompt],
        "model": [model_id],
        "count": [str(count)],
        "aspect_ratio": [ratio],
        "size": [size if size != "auto" else ""],
        "quality": [_text(body, "quality")],
        "resolution": [_text(body, "image_size")],
        "moderation": [extras["moderation"]],
        "service_tier": [service_tier],
    }
    if edit:
        data.update(
            background=[extras["background"]],
            output_format=[extras["output_format"]],
            input_fidelity=[extras["input_fidelity"]],
            output_compression=["" if compression is None else str(compression)],
        )
    form = GenerateForm(MultiValueDict(data), models=offered, sources=sources)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        param = FORM_FIELD_PARAMS.get(field, field)
        raise bad_param("model" if param == "__all__" else param, str(errors[0]))
    cleaned = form.cleaned_data
    for spec in cleaned["specs"]:
        # The box ignores a tier for a model with none; a script asked for it, so say so.
        if service_tier and service_tier not in spec.service_tiers:
            offered = ", ".join(spec.service_tiers) or "none"
            raise bad_param(
                "service_tier",
                f"{spec.label} has no {service_tier} tier (its tiers: {offered}); leave "
                "service_tier out.",
            )
    choice = form.choice()
    # What the box ignores for a model (a control it does not show) the API still maps: a size
    # for a ratio model becomes its nearest ratio, a ratio for a size model its nearest size.
    choice = dataclasses.replace(
        choice,
        aspect_ratio=choice.aspect_ratio or ("" if ratio == "auto" else ratio),
        size=choice.size or ("" if size == "auto" else size),
        style=extras["style"],
    )
    if not edit:
        choice = dataclasses.replace(
            choice,
            background=extras["background"],
            output_format=extras["output_format"],
            output_compression=compression,
        )
    return ImagesRequest(
        prompt=cleaned["prompt"],
        specs=cleaned["specs"],
        choice=choice,
        count=cleaned["count"],
        response_format=response_format,
        stream=stream,
    )
