"""The HTTPS image host, for data[].url results and links people give: registered bytes served
over TLS on 127.0.0.1 with a throwaway `trustme` CA, every request recorded."""

from __future__ import annotations

import secrets
import ssl
import threading
from typing import Any

from tests.fake_gateway.plumbing import Handler, Server, serve_in_thread
from tests.fake_gateway.wire import RecordedRequest, Reply


class HttpsImageHost:
    """Mixed into FakeGateway, whose lock, connection list and stop() it shares."""

    def __init__(self) -> None:
        self._https_requests: list[RecordedRequest] = []
        self._https_server: Server | None = None
        self._https_thread: threading.Thread | None = None
        self._https_lock = threading.Lock()
        self._ca: Any = None
        self._client_context: ssl.SSLContext | None = None
        self._blobs: dict[str, Reply] = {}

    @property
    def https_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._https_requests)

    def start_https(self) -> str:
        """Start the TLS image host (idempotent); returns its origin."""
        with self._https_lock:
            if self._https_server is None:
                import trustme  # test-only dependency; imported when actually needed

                self._ca = trustme.CA()
                server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self._ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
                server_context.sni_callback = _remember_sni
                client_context = ssl.create_default_context()
                self._ca.configure_trust(client_context)
                self._client_context = client_context
                server = Server(("127.0.0.1", 0), _ImageHostHandler, self)
                # The handshake happens in the handler thread, so a slow client blocks no one else.
                server.socket = server_context.wrap_socket(
                    server.socket, server_side=True, do_handshake_on_connect=False
                )
                self._https_server = server
                self._https_thread = serve_in_thread(server, "fake-gateway-https")
            return f"https://localhost:{self._https_server.server_address[1]}"

    @property
    def https_port(self) -> int:
        self.start_https()
        assert self._https_server is not None
        return self._https_server.server_address[1]

    def write_ca_pem(self, path) -> str:
        """Write the HTTPS host's CA certificate (PEM) to `path`, for GATEWAY_URL_FETCH_CA_FILE."""
        self.start_https()
        self._ca.cert_pem.write_to_path(str(path))
        return str(path)

    @property
    def ssl_context(self) -> ssl.SSLContext:
        self.start_https()
        assert self._client_context is not None
        return self._client_context

    def https_url_for(
        self,
        data: bytes,
        *,
        content_type: str = "image/png",
        host: str = "localhost",
        chunked: bool = False,
        trickle: float = 0.0,
    ) -> str:
        """Serve `data` from the HTTPS image host; `chunked` leaves out Content-Length;
        `trickle` sends the body one byte every that many seconds (until reset() or stop())."""
        port = self.https_port
        token = secrets.token_hex(8)
        with self._lock:
            self._blobs[f"/files/{token}"] = Reply(
                200,
                data,
                content_type=content_type,
                chunked=chunked,
                trickle=(1, trickle) if trickle else None,
            )
        return f"https://{host}:{port}/files/{token}"


def _remember_sni(ssl_socket: Any, server_name: str | None, context: ssl.SSLContext) -> None:
    ssl_socket.fake_sni = server_name


class _ImageHostHandler(Handler):
    def do_GET(self) -> None:
        fake = self.server.fake
        request = self.read_request()
        fake._record(request, https=True)
        with fake._lock:
            reply = fake._blobs.get(request.path)
        self.send(reply or Reply(404, b"not found", content_type="text/plain"))
