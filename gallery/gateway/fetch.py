"""Fetching an image from a URL: a data[].url result, or a link a person gave to edit.

The URL's host is not the gateway and is trusted even less: https only, never a private or local
address (checked on every address the name resolves to, and connected to by that address), no
redirects, no key, size-capped, and held to a deadline of its own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from gallery.gateway.config import ACCEPT_ENCODING, GatewayConfig, default_tls
from gallery.gateway.errors import private_url_error, reason, redacting, url_error
from gallery.gateway.reading import read_body

# A data[].url result is a plain file download: it should be quick, and a slow drip must not
# hold a worker for the gateway's 10-minute budget.
URL_FETCH_TIMEOUT = httpx.Timeout(10.0)
URL_FETCH_DEADLINE_SECONDS = 60.0


async def fetch_image(url: str, config: GatewayConfig) -> bytes:
    """Download an image from a link a person gave (to edit it), with the same guards as a
    data[].url result: https only, never a private or local address, size-capped."""
    with redacting(config):
        return await fetch_image_url(url, config, what="The image link")


def checked_image_url(
    url: str, config: GatewayConfig, *, what: str = "The image link"
) -> httpx.URL:
    """The checks on an image URL that need no network: valid, https, with a host, and not a
    private address written as a number. Fetching repeats them, then checks every address the
    host resolves to; callers use this to refuse a bad link at once, before queueing a fetch."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise url_error(f"{what} is not a valid URL.") from exc
    if target.scheme != "https":
        raise url_error(f"{what} is not https; only https image URLs are fetched.")
    host = target.raw_host.decode("ascii")
    if not host:
        raise url_error(f"{what} has no host.")
    if not config.allow_private_urls:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None  # a name: checked once it is resolved
        if literal is not None and _is_private(str(literal)):
            raise private_url_error(what, host)
    return target


async def fetch_image_url(
    url: str, config: GatewayConfig, *, what: str = "The gateway's image URL"
) -> bytes:
    """Download an image URL the gateway handed back, without letting it reach inside our network.

    The hostname is resolved once, every address is checked, and the connection goes to a checked
    address (TLS still verifies the name through SNI), so DNS rebinding cannot swap in a private
    address between the check and the connect.
    """
    target = checked_image_url(url, config, what=what)
    host = target.raw_host.decode("ascii")
    try:
        async with asyncio.timeout(URL_FETCH_DEADLINE_SECONDS):
            addresses = await _resolve(host, target.port or 443)
            if not config.allow_private_urls:
                for address in addresses:
                    if _is_private(address):
                        raise private_url_error(what, host)
            return await _download(target, addresses, config)
    except TimeoutError as exc:
        raise url_error(
            f"Downloading the image from {host} took longer than {URL_FETCH_DEADLINE_SECONDS:g} s."
        ) from exc
    except httpx.TimeoutException as exc:
        raise url_error(f"The image host {host} did not answer in time.") from exc
    except httpx.HTTPError as exc:
        raise url_error(
            f"Could not download the image from {host} ({reason(exc, config)})."
        ) from exc


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise url_error(f"Could not resolve the image host {host}.") from exc
    # dict.fromkeys keeps the resolver's order (it prefers what is reachable) without duplicates.
    return list(dict.fromkeys(str(info[4][0]).partition("%")[0] for info in infos))


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def _download(target: httpx.URL, addresses: list[str], config: GatewayConfig) -> bytes:
    # No auth header here: the URL's host is not the gateway. No redirects: they skip the checks.
    async with httpx.AsyncClient(
        verify=default_tls() if config.verify is True else config.verify,
        timeout=URL_FETCH_TIMEOUT,
        follow_redirects=False,
        trust_env=False,
    ) as fetcher:
        failure: Exception = url_error(f"The image host {target.host} has no address.")
        for address in addresses:
            request = fetcher.build_request(
                "GET",
                target.copy_with(host=address),
                headers={
                    "Host": target.netloc.decode("ascii"),
                    "Accept": "image/*",
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                extensions={"sni_hostname": target.raw_host.decode("ascii")},
            )
            try:
                response = await fetcher.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = exc  # try the host's next address
                continue
            try:
                return await _read_capped(response, config)
            finally:
                await response.aclose()
        raise failure


async def _read_capped(response: httpx.Response, config: GatewayConfig) -> bytes:
    if response.status_code != 200:
        raise url_error(f"The image URL answered with HTTP {response.status_code}.")
    data = await read_body(response, limit=config.max_image_bytes, what="The image")
    if not data:
        raise url_error("The image URL returned an empty file.")
    return data
