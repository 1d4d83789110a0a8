"""What goes over the wire: requests as the fake records them, and replies as it sends them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

IMAGE_PATHS = ("/v1/images/generations", "/v1/images/edits")


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)
    body: bytes = b""
    received_at: float = 0.0
    sni: str | None = None

    @property
    def model(self) -> str | None:
        source = self.json if isinstance(self.json, dict) else self.fields
        value = source.get("model")
        return value if isinstance(value, str) else None

    @property
    def params(self) -> dict[str, Any]:
        """The request's parameters, from the JSON body or the multipart text fields."""
        return dict(self.json) if isinstance(self.json, dict) else dict(self.fields)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    trickle: tuple[int, float] | None = None  # (bytes, seconds before each piece)


def path_matches(pattern: str, path: str) -> bool:
    pattern = pattern.strip("/")
    return path.strip("/") == pattern or path.endswith("/" + pattern)


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode())


def body_reply(status: int, body: bytes | str | dict | list) -> Reply:
    if isinstance(body, bytes):
        return Reply(status, body, content_type="application/octet-stream")
    if isinstance(body, str):
        return Reply(status, body.encode(), content_type="text/plain; charset=utf-8")
    return json_reply(status, body)


def parse_body(
    headers: dict[str, str], body: bytes
) -> tuple[Any, dict[str, str], list[UploadedFile]]:
    content_type = headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return (None, *parse_multipart(body, content_type))
    if not body:
        return None, {}, []
    try:
        return json.loads(body), {}, []
    except ValueError:
        return None, {}, []


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], list[UploadedFile]]:
    boundary = _header_param("content-type", content_type, "boundary")
    fields: dict[str, str] = {}
    files: list[UploadedFile] = []
    if not boundary:
        return fields, files
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        part_headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            part_headers[name.strip().lower()] = value.strip()
        disposition = part_headers.get("content-disposition", "")
        name = _header_param("content-disposition", disposition, "name") or ""
        filename = _header_param("content-disposition", disposition, "filename")
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            content = part_headers.get("content-type", "application/octet-stream")
            files.append(
                UploadedFile(field=name, filename=filename, content_type=content, data=data)
            )
    return fields, files


def _header_param(header: str, value: str, param: str) -> str | None:
    message = Message()
    message[header] = value
    found = message.get_param(param, header=header)
    return found if isinstance(found, str) else None
