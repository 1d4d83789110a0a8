"""Server plumbing shared by the gateway and its HTTPS image host: a threaded HTTP/1.1 server
that records each request and sends replies whole, chunked or trickled."""

from __future__ import annotations

import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.fake_gateway.wire import RecordedRequest, Reply, parse_body

if TYPE_CHECKING:
    from tests.fake_gateway.server import FakeGateway


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for hanging or keep-alive handlers
    request_queue_size = 1024  # hundreds of clients connect at once in the benchmarks
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeGateway) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a timeout test, a failed TLS check) is not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def serve_in_thread(server: Server, name: str) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=name, daemon=True
    )
    thread.start()
    return thread


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real gateway
    server_version = "FakeGateway/1.0"
    timeout = 120  # idle keep-alive connections go away eventually
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.fake._lock:
                self.server.fake._connections.discard(self.connection)

    def log_message(self, *args: Any) -> None:
        pass  # tests read fake.requests; a line per request would only be noise

    def read_request(self) -> RecordedRequest:
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        json_body, fields, files = parse_body(headers, body)
        return RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers=headers,
            json=json_body,
            fields=fields,
            files=files,
            body=body,
            received_at=time.perf_counter(),
            sni=getattr(self.connection, "fake_sni", None),
        )

    def send(self, reply: Reply, release: threading.Event | None = None) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.trickle:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.flush()
            size, seconds = reply.trickle
            for start in range(0, len(reply.body), size):
                if (release or self.server.fake._stopping).wait(seconds):
                    self.close_connection = True  # reset() or stop(): drop it half-sent
                    return
                self.wfile.write(reply.body[start : start + size])
                self.wfile.flush()
        elif reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(reply.body), 16 * 1024):
                piece = reply.body[start : start + 16 * 1024]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        self.wfile.flush()
