"""A real OPA server for the tests, configured as docs/policies.md documents for production.

``start_opa`` runs ``opa run --server`` on 127.0.0.1 (a free port) with the configuration block
of docs/policies.md, changed only where a test machine must differ: the bundle service is a
local ``BundleService`` (no managed identity), decision logs and status reports go to a local
``DecisionLogCollector``, and the polling and reporting delays are short. The binaries come
from ``make deps-go`` (``.venv/bin``) or PATH; ``tests.rego_tools.tool`` skips a test without them.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
DOCUMENTED_CONFIG = REPO / "docs" / "policies.md"
BUNDLE_NAME = "sealgate"
BUNDLE_RESOURCE = "sealgate.tar.gz"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        with self.changed:
            if not self.changed.wait_for(predicate, timeout):
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class BundleService(_LocalServer):
    """Serves bundles by resource name, as a blob container does, with ETags (OPA polls)."""

    def __init__(self) -> None:
        super().__init__(_BundleHandler)
        self.resources: dict[str, bytes] = {}
        self.requests: list[str] = []

    def publish(self, resource: str, content: bytes) -> None:
        with self.changed:
            self.resources[resource] = content


class _BundleHandler(_Quiet):
    server: BundleService

    def do_GET(self) -> None:
        resource = self.path.lstrip("/").split("?", 1)[0]
        with self.server.changed:
            self.server.requests.append(resource)
            content = self.server.resources.get(resource)
            self.server.changed.notify_all()
        if content is None:
            self._reply(404)
            return
        etag = '"' + hashlib.sha256(content).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            self._reply(304, headers={"ETag": etag})
            return
        self._reply(200, content, {"Content-Type": "application/gzip", "ETag": etag})


class DecisionLogCollector(_LocalServer):
    """Receives OPA's gzip-compressed decision log batches (POST /logs) and status (/status)."""

    def __init__(self) -> None:
        super().__init__(_CollectorHandler)
        self.events: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []

    def events_where(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self.changed:
            return [event for event in self.events if predicate(event)]

    def latest_status(self) -> dict[str, Any]:
        with self.changed:
            return self.statuses[-1] if self.statuses else {}


class _CollectorHandler(_Quiet):
    server: DecisionLogCollector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        document = json.loads(body)
        with self.server.changed:
            if self.path.startswith("/logs"):
                self.server.events.extend(document)
            elif self.path.startswith("/status"):
                self.server.statuses.append(document)
            self.server.changed.notify_all()
        self._reply(200)


def documented_opa_config() -> dict[str, Any]:
    """The production OPA configuration block of docs/policies.md (marked ``opa-config``)."""
    text = DOCUMENTED_CONFIG.read_text()
    match = re.search(r"<!-- opa-config -->\s*```yaml\n(.*?)```", text, re.DOTALL)
    if match is None:
        raise AssertionError(f"{DOCUMENTED_CONFIG}: no ```yaml block after <!-- opa-config -->")
    config: dict[str, Any] = yaml.safe_load(match.group(1))
    return config


def local_opa_config(
    *, bundle_url: str, collector_url: str, public_key_pem: str, key_id: str = "sealgate"
) -> dict[str, Any]:
    """The documented configuration with local services, the given key and short delays."""
    config = copy.deepcopy(documented_opa_config())
    bundle_service = config["bundles"][BUNDLE_NAME]["service"]
    config["services"][bundle_service]["url"] = bundle_url
    config["services"][bundle_service].pop("credentials", None)  # no managed identity here
    log_service = config["decision_logs"]["service"]
    config["services"][log_service]["url"] = collector_url
    config["services"][log_service].pop("credentials", None)
    config["bundles"][BUNDLE_NAME]["polling"] = {"min_delay_seconds": 1, "max_delay_seconds": 2}
    config["decision_logs"]["reporting"] = {"min_delay_seconds": 1, "max_delay_seconds": 1}
    configured_id = config["bundles"][BUNDLE_NAME]["signing"]["keyid"]
    key = config["keys"].pop(configured_id)
    config["bundles"][BUNDLE_NAME]["signing"]["keyid"] = key_id
    config["keys"][key_id] = {**key, "key": public_key_pem}
    return config


@dataclass
class OpaServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    config: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str) -> tuple[int, Any]:
        """(HTTP status, parsed JSON body) of GET ``path``; raises OSError when unreachable."""
        try:
            response = requests.get(self.url + path, timeout=5)
        except requests.ConnectionError as exc:
            raise OSError(str(exc)) from exc
        return response.status_code, response.json() if response.content else None

    def bundle_revision(self) -> str | None:
        """The revision of the activated ``sealgate`` bundle, None before one is activated."""
        status, body = self.get(f"/v1/data/system/bundles/{BUNDLE_NAME}/manifest/revision")
        if status != 200 or not isinstance(body, dict):
            return None
        revision = body.get("result")
        return revision if isinstance(revision, str) else None

    def wait_for_revision(self, revision: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.bundle_revision() != revision:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(
                    f"OPA did not activate bundle revision {revision} within {timeout:.0f}s; "
                    f"active: {self.bundle_revision()}; log:\n{self.log()[-3000:]}"
                )
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_opa(opa: str, workdir: Path, config: dict[str, Any] | None = None) -> OpaServer:
    """``opa run --server`` on a free 127.0.0.1 port; returns once its API answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [opa, "run", "--server", f"--addr=127.0.0.1:{port}", "--skip-version-check"]
    if config is not None:
        config_path = workdir / "opa-config.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        command.append(f"--config-file={config_path}")
    log_path = workdir / "opa.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = OpaServer(f"http://127.0.0.1:{port}", process, log_path, config or {})
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if server.get("/health")[0] in {200, 500}:
                return server
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"OPA did not start; log:\n{server.log()[-3000:]}")
        time.sleep(0.1)


@dataclass
class LiveOpa:
    """A running OPA server with its bundle service and decision log collector."""

    server: OpaServer
    bundles: BundleService
    collector: DecisionLogCollector

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def live_opa_server(
    opa: str, workdir: Path, bundle: bytes, public_key_pem: str, *, key_id: str = "sealgate"
) -> Iterator[LiveOpa]:
    """Serve ``bundle``, start OPA configured for it, stop everything on exit.

    It does not wait for activation: ``live.server.wait_for_revision(rev)`` does.
    """
    bundles = BundleService()
    collector = DecisionLogCollector()
    bundles.start()
    collector.start()
    try:
        bundles.publish(BUNDLE_RESOURCE, bundle)
        config = local_opa_config(
            bundle_url=bundles.url,
            collector_url=collector.url,
            public_key_pem=public_key_pem,
            key_id=key_id,
        )
        server = start_opa(opa, workdir, config)
        try:
            yield LiveOpa(server, bundles, collector)
        finally:
            server.stop()
    finally:
        bundles.stop()
        collector.stop()


@contextmanager
def live_opa_on_policies(
    opa: str, workdir: Path, policies: Path = REPO / "policies"
) -> Iterator[LiveOpa]:
    """OPA on ``policies``, bundled and signed by ``sealgate policy bundle`` with a fresh key,
    activated before it is yielded (for benchmarks and tests that only need a live server)."""
    workdir.mkdir(parents=True, exist_ok=True)
    sealgate = [sys.executable, "-m", "sealgate"]
    key = workdir / "policy-signer"
    subprocess.run(
        [*sealgate, "keys", "generate", "signing", f"--out={key}"], check=True, capture_output=True
    )
    bundle = workdir / BUNDLE_RESOURCE
    built = subprocess.run(
        [*sealgate, "policy", "bundle", str(policies), f"--out={bundle}", f"--sign-key={key}.key"],
        check=True,
        capture_output=True,
        text=True,
    )
    revision = built.stdout.split("revision ", 1)[1].split(",", 1)[0]
    public_key = Path(f"{key}.pub").read_text()
    with live_opa_server(opa, workdir / "opa", bundle.read_bytes(), public_key) as live:
        live.server.wait_for_revision(revision)
        yield live
