"""A stand-in for the key release service's device endpoints on 127.0.0.1: the HTTP contract
(``POST /v1/devices``, ``POST /v1/devices/<id>/activation``, operator bearer token) routed to
the real ``DeviceRegistry``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sealgate.attestation import DeviceRegistry
from sealgate.errors import DeniedError, InputError

from tests.attestation.conftest import MemoryStateStore
from tests.keyrelease.conftest import swtpm_factory  # noqa: F401 (fixture)

OPERATOR_TOKEN = "operator-token-for-tests"


@dataclass
class DeviceService:
    url: str
    registry: DeviceRegistry
    state: MemoryStateStore
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    fail_with: int | None = None  # answer every request with this status (an outage)


def _handler(service: DeviceService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            content = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def do_POST(self) -> None:
            service.requests.append((self.path, self.headers.get("Authorization")))
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if service.fail_with is not None:
                self._answer(service.fail_with, {"error": "dependency failed", "reasons": []})
                return
            if self.headers.get("Authorization") != f"Bearer {OPERATOR_TOKEN}":
                self._answer(401, {"error": "unauthorized", "reasons": ["bad operator token"]})
                return
            parts = self.path.strip("/").split("/")
            try:
                if parts == ["v1", "devices"]:
                    answer = service.registry.begin_enrolment(body, operator="ops@example")
                elif (
                    len(parts) == 4 and parts[:2] == ["v1", "devices"] and parts[3] == "activation"
                ):
                    answer = service.registry.finish_enrolment(parts[2], body)
                else:
                    self._answer(404, {"error": "not found", "reasons": []})
                    return
            except DeniedError as exc:
                self._answer(403, {"error": "denied", "reasons": [str(exc)]})
            except InputError as exc:
                self._answer(400, {"error": str(exc), "reasons": []})
            else:
                self._answer(200, answer)

    return Handler


@pytest.fixture
def device_service() -> Iterator[DeviceService]:
    state = MemoryStateStore()
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    service = DeviceService(
        f"http://127.0.0.1:{server.server_address[1]}", DeviceRegistry(state), state
    )
    server.RequestHandlerClass = _handler(service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
