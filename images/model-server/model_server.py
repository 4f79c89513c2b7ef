"""Health and readiness endpoints of the model server image (standard library only).

`sealgate unseal ... --exec` replaces itself with this process once the model is verified,
decrypted and published; the inference runtime of a real deployment runs in its place (or
is started from here). It never serves model bytes: only liveness (/healthz) and readiness
(/ready: the unsealed model directory exists and holds files).
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def model_ready(model_dir: Path) -> bool:
    return model_dir.is_dir() and any(p.is_file() for p in model_dir.rglob("*"))


def handler_for(model_dir: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, {"status": "alive"})
            elif self.path == "/ready":
                ready = model_ready(model_dir)
                self._reply(200 if ready else 503, {"ready": ready})
            else:
                self._reply(404, {"error": "not found"})

        def _reply(self, status: int, body: dict[str, object]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds would flood the log

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - the pod's own address
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(args.model_dir))
    server.serve_forever()


if __name__ == "__main__":
    main()
