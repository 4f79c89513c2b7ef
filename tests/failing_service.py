"""A local stand-in for an Azure service that is down: every request gets one fixed answer
(503 ServerBusy, 429, 500, 403...) in the service's error shape, and is counted, so a test
sees both the exit code and that the SDK retried. Listens on 127.0.0.1 only; with a
certificate it speaks HTTPS (Key Vault and the token endpoint accept nothing else)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.promotion.conftest import AZURITE_ACCOUNT, AZURITE_KEY


class FailingService:
    def __init__(
        self, status: int, code: str, *, certificate: tuple[Path, Path] | None = None
    ) -> None:
        self.status, self.code, self.requests = status, code, 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _answer(self) -> None:
                with service._lock:
                    service.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps(
                    {"error": {"code": service.code, "message": f"stand-in: {service.code}"}}
                ).encode()
                self.send_response(service.status)
                self.send_header("x-ms-error-code", service.code)
                self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

        return Handler

    def blob_connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};"
        )

    def __enter__(self) -> FailingService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
