"""The gateway's image models: GET /models, filtered to what the studio can offer.

The page waits for this list, so it fails fast; the catalog caches it and copes without it.
"""

from __future__ import annotations

import asyncio

import httpx

from gallery.gateway.config import GatewayConfig, default_tls, gateway_headers
from gallery.gateway.errors import (
    GatewayError,
    gateway_text,
    redact,
    redacting,
    timeout_error,
    transport_error,
)
from gallery.gateway.reading import deadline, exchange, parse_json, status_error

# Generous for a list of a few hundred models.
MAX_MODEL_LIST_BYTES = 8 * 1024 * 1024
# Longest model name kept from the gateway.
MAX_NAME_CHARS = 200
# The longest model id the studio stores (gallery.models.Image.model); a longer one, or one with
# control characters, is not a model anyone could pick.
MAX_MODEL_ID_CHARS = 200


def list_image_models(config: GatewayConfig) -> list[dict]:
    """The gateway's image models: [{"id", "name", "input_modalities"}].

    Fails fast: `models_timeout` bounds the whole exchange, body included, because the page waits
    for it. An event loop of its own gives a deadline that can stop a read already under way.
    """
    with redacting(config):
        return asyncio.run(_list_image_models(config))


async def _list_image_models(config: GatewayConfig) -> list[dict]:
    late = f"The gateway did not list its models within {config.models_timeout:g} s."
    async with deadline(config.models_timeout, late):
        try:
            async with httpx.AsyncClient(
                base_url=config.base_url,
                headers=gateway_headers(config),
                timeout=config.models_timeout,
                verify=default_tls(),
            ) as client:
                answer = await exchange(
                    client,
                    client.build_request("GET", "/models"),
                    limit=MAX_MODEL_LIST_BYTES,
                    what="The gateway's model list",
                )
        except httpx.TimeoutException as exc:
            raise timeout_error(late) from exc
        except httpx.HTTPError as exc:
            raise transport_error(exc, config) from exc
    if not answer.is_success:
        raise status_error(answer, attempts=1, config=config)
    payload = parse_json(answer.body, what="The gateway's model list")
    entries = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise GatewayError(
            "The gateway's model list is not in the expected shape (no data list).",
            code="bad_response",
        )
    return [
        {
            "id": redact(entry["id"], config.api_key),  # kept whole: it is sent back as is
            "name": gateway_text(
                entry["name"] if isinstance(entry.get("name"), str) else entry["id"],
                config,
                limit=MAX_NAME_CHARS,
            ),
            "input_modalities": _string_list(entry["architecture"].get("input_modalities")),
        }
        for entry in entries
        if _is_image_model(entry)
    ]


def _string_list(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _is_image_model(entry: object) -> bool:
    if not isinstance(entry, dict) or not isinstance(model_id := entry.get("id"), str):
        return False
    if not 0 < len(model_id) <= MAX_MODEL_ID_CHARS or not model_id.isprintable():
        return False
    architecture = entry.get("architecture")
    if not isinstance(architecture, dict):
        return False
    outputs = architecture.get("output_modalities")
    return isinstance(outputs, list) and "image" in outputs
