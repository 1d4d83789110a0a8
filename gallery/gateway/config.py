"""How to reach the gateway: its settings, TLS and the headers every call carries.

`GatewayConfig.from_settings` is the only place the gateway package reads Django settings; the
rest takes a `GatewayConfig`, so it stays plain Python that tests can configure directly.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass, field

import httpx

# Only the encodings reading.py can inflate a piece at a time: httpx would also offer br or zstd
# if their packages were installed.
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class GatewayConfig:
    base_url: str
    api_key: str = field(repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    write_timeout: float = 60.0
    pool_timeout: float = 30.0
    max_retries: int = 2
    max_retry_after: float = 30.0
    max_image_bytes: int = 50 * 1024 * 1024
    allow_private_urls: bool = False
    verify: ssl.SSLContext | bool = True
    edits_multipart: bool = False
    models_timeout: float = 3.0
    call_deadline: float = 630.0
    max_response_bytes: int = 48 * 1024 * 1024
    temp_dir: str = ""  # where image answers are streamed to; "" is the system's temp folder

    @classmethod
    def from_settings(cls) -> GatewayConfig:
        # Imported here so the package stays usable (and importable) without Django configured.
        from django.conf import settings

        return cls(
            base_url=settings.LLM_GATEWAY_BASE_URL.rstrip("/"),
            api_key=settings.LLM_GATEWAY_API_KEY or "",
            connect_timeout=settings.GATEWAY_CONNECT_TIMEOUT,
            read_timeout=settings.GATEWAY_READ_TIMEOUT,
            write_timeout=settings.GATEWAY_WRITE_TIMEOUT,
            pool_timeout=settings.GATEWAY_POOL_TIMEOUT,
            max_retries=settings.GATEWAY_MAX_RETRIES,
            max_retry_after=settings.GATEWAY_MAX_RETRY_AFTER,
            max_image_bytes=settings.GATEWAY_MAX_IMAGE_BYTES,
            allow_private_urls=settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE,
            edits_multipart=settings.GATEWAY_EDITS_MULTIPART,
            models_timeout=settings.GATEWAY_MODELS_TIMEOUT,
            call_deadline=settings.GATEWAY_CALL_DEADLINE,
            max_response_bytes=settings.GATEWAY_MAX_RESPONSE_BYTES,
            temp_dir=settings.GATEWAY_TEMP_DIR,
            verify=_tls_with_ca(settings.GATEWAY_URL_FETCH_CA_FILE),
        )


# TLS contexts are per process by nature (and hold no data that changes).
@functools.cache
def _tls_with_ca(ca_file: str) -> ssl.SSLContext | bool:
    """Extra certificate authority for data[].url hosts (a company proxy, or the tests)."""
    if not ca_file:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


@functools.cache
def default_tls() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; every client can share one context.
    return httpx.create_ssl_context()


def gateway_headers(config: GatewayConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.api_key}", "Accept-Encoding": ACCEPT_ENCODING}
