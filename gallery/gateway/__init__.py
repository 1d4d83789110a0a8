"""The one seam to the image gateway (see GATEWAY.md): generations, edits and the model list.

All outbound HTTP of the studio goes through here, with explicit timeouts and one error type,
`GatewayError`, whose message is a sentence a person understands and is safe to show in the UI.
Pure Python and httpx: no ORM, and Django settings are read only by `GatewayConfig.from_settings`.
Callers import from `gallery.gateway`; the modules below are its parts, read top-down:

    config      GatewayConfig (settings, timeouts, limits), TLS, the headers every call carries
    images      generate_image / edit_image on an async_client: retries, one deadline per call
    fetch       data[].url results and links people give (fetch_image, checked_image_url):
                https only, never a private address, no redirects, size-capped
    model_list  list_image_models: GET /models, fast-failing, filtered to image models
    reading     answers read as capped streams, inflated piecewise, parsed; error answers
    spool       image answers streamed into temporary files (GATEWAY_TEMP_DIR) off the event
                loop: base64 pulled out and decoded a block at a time (gallery.answer_stream)
    errors      GatewayError, the sentences it carries, and redaction of the key

The gateway is not trusted to be well behaved. Every answer is read as a stream with a size limit
(`reading.read_body`, or `spool.read_image_answer` for an image answer), every exchange has an
overall deadline as well as per-phase timeouts, every body is parsed by `reading.parse_json` or
streamed through `answer_stream.AnswerReader` (their failures are GatewayErrors), and every
string taken from an answer passes `errors.gateway_text`, which redacts the key before anything
is clipped, kept or shown. An image answer's files are the caller's to remove:
`GatewayResult.close()` (or `with result:`) once the image is stored or refused.
"""

from gallery.gateway.config import GatewayConfig
from gallery.gateway.errors import GatewayError
from gallery.gateway.fetch import checked_image_url, fetch_image
from gallery.gateway.images import (
    GatewayResult,
    ImageData,
    InputImage,
    async_client,
    edit_image,
    generate_image,
)
from gallery.gateway.model_list import MAX_MODEL_ID_CHARS, list_image_models
from gallery.gateway.spool import remove_stale_answers

__all__ = [
    "MAX_MODEL_ID_CHARS",
    "GatewayConfig",
    "GatewayError",
    "GatewayResult",
    "ImageData",
    "InputImage",
    "async_client",
    "checked_image_url",
    "edit_image",
    "fetch_image",
    "generate_image",
    "list_image_models",
    "remove_stale_answers",
]
