"""The consumer's client: a proxy's HTML page, an oversized or slow answer are outages
(exit 3 through the CLI), never a parsed key."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sealgate.errors import InputError, UnavailableError
from sealgate.runtime._client import KeyserverClient

from tests.keyserver.pki import Pki, make_pki


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/html":
            body = b"<html>502 Bad Gateway</html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
        elif self.path == "/huge":
            body = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:  # /slow: headers, then a body that trickles in
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[str, Pki]]:
    pki = make_pki(tmp_path / "pki")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.certificate, pki.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", pki
    finally:
        server.shutdown()
        server.server_close()


def test_non_json_oversized_and_slow_answers_are_outages(proxy: tuple[str, Pki]) -> None:
    url, pki = proxy
    client = KeyserverClient(url, pki.ca, deadline_seconds=1.5)
    with pytest.raises(
        UnavailableError, match=r"HTTP 502 with something that is not a JSON object \(text/html\)"
    ):
        client.post("/html", {})
    with pytest.raises(UnavailableError, match="answer is over 1048576 bytes"):
        client.post("/huge", {})
    started = time.monotonic()
    with pytest.raises(UnavailableError):
        client.post("/slow", {})
    assert time.monotonic() - started < 3.5  # one deadline for the whole answer


def test_plain_http_and_an_untrusted_certificate_are_refused(
    proxy: tuple[str, Pki], tmp_path: Path
) -> None:
    url, _ = proxy
    with pytest.raises(InputError, match="expected an https:// URL"):
        KeyserverClient(url.replace("https", "http"))
    other = make_pki(tmp_path / "other")
    with pytest.raises(UnavailableError, match="unreachable"):
        KeyserverClient(url, other.ca).post("/html", {})
