"""The OPA server backend: its REST contract, fail-closed handling, and live parity.

The contract tests talk to a local stand-in that speaks OPA's documented REST API (PUT
/v1/policies, PUT /v1/data, POST /v1/data/<path>) and answers from regorus, for what a real
server cannot be made to do (garbage, 500s). The live parity test runs a real `opa` (built by
`make deps-go`), as does tests/policy/test_opa_live.py on signed bundles.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sealgate.errors import EngineError
from sealgate.inputs._model import PolicyInput
from sealgate.policy._embedded import EmbeddedEngine, describe_engine_error
from sealgate.policy._engine import EmbeddedDecisions, create_engine, is_undefined
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import PolicyModule, PolicySet, load_policy_set
from sealgate.policy._opa import OpaServerEngine, parse_opa_url
from sealgate.policy._opa_batch import BATCH_MODULE, BATCH_PATH
from sealgate.policy._opa_limits import OpaLimits
from sealgate.policy._testing import sample_cases

from tests.conftest import REPO
from tests.opa_server import start_opa


class OpaStandIn(ThreadingHTTPServer):
    """Just enough of OPA's REST API, evaluated by regorus, recording what it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.modules: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.queries: list[tuple[str, dict[str, list[str]]]] = []
        self.fail_with: int | None = None
        self._compiled = threading.local()

    def engine(self) -> EmbeddedEngine:
        """The pushed modules compiled (anew after each upload; regorus engines stay on the
        thread that made them, and the client keeps its connection on one thread)."""
        key = (tuple(self.modules.items()), json.dumps(self.data, sort_keys=True))
        compiled = getattr(self._compiled, "engine", None)
        if compiled is None or compiled[0] != key:
            compiled = (key, EmbeddedEngine(self.modules.items(), self.data))
            self._compiled.engine = compiled
        return compiled[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: OpaStandIn

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any] | None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_PUT(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if path.startswith("/v1/policies/"):
            source = body.decode()
            try:
                EmbeddedEngine([("check.rego", source)])
            except Exception as exc:
                self._reply(
                    400, {"code": "invalid_parameter", "message": f"error(s) occurred: {exc}"}
                )
                return
            self.server.modules[path.removeprefix("/v1/policies/")] = source
            self._reply(200, {})
        elif path.startswith("/v1/data/"):
            self.server.data[path.removeprefix("/v1/data/")] = json.loads(body)
            self._reply(204, None)
        else:
            self._reply(404, {"code": "resource_not_found"})

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        self.server.queries.append((parts.path, parse_qs(parts.query)))
        body = json.loads(self._body())
        if self.server.fail_with:
            self._reply(self.server.fail_with, {"code": "internal_error", "message": "boom"})
            return
        rule = parts.path.removeprefix("/v1/data/").replace("/", ".")
        engine = self.server.engine()
        try:
            if parts.path == BATCH_PATH and BATCH_MODULE in self.server.modules.values():
                value = _batched(engine, body["input"])
            else:
                value = engine.evaluate(rule, body.get("input"))
        except Exception as exc:
            fault = describe_engine_error(exc)
            self._reply(
                500,
                {
                    "code": "internal_error",
                    "message": "error(s) occurred",
                    "errors": [
                        {
                            "message": fault.message,
                            "location": {"file": fault.file, "row": fault.line},
                        }
                    ],
                },
            )
            return
        self._reply(200, {} if is_undefined(value) else {"result": value})


def _batched(engine: EmbeddedEngine, batch_input: dict[str, Any]) -> dict[str, Any]:
    """What OPA answers for the batch module: each requested package's deny set, evaluated
    on the document (regorus evaluates every package behind a dynamic data reference, so
    the stand-in evaluates the requested ones itself)."""
    values = {}
    for name in batch_input["packages"]:
        value = engine.evaluate(f"{name}.deny", batch_input["document"])
        if not is_undefined(value):
            values[name] = value
    return values


@pytest.fixture
def opa_stand_in() -> Iterator[OpaStandIn]:
    server = OpaStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def repo_policies() -> PolicySet:
    return load_policy_set([REPO / "policies"])


def sample_inputs(policy_set: PolicySet) -> Iterator[tuple[str, PolicyInput]]:
    for package in policy_set.packages.values():
        for case in sample_cases(package):
            for policy_input in case.inputs():
                yield case.name, policy_input


def decisions(policy_set: PolicySet, engine: Any) -> list[tuple[str, list[tuple[str, str, tuple]]]]:
    return [
        (
            name,
            sorted(
                (f.rule_id, f.message, f.path)
                for f in evaluate_input(policy_set, engine, policy_input)
            ),
        )
        for name, policy_input in sample_inputs(policy_set)
    ]


def test_opa_backend_gives_the_same_decisions_through_the_rest_contract(
    opa_stand_in: OpaStandIn, repo_policies: PolicySet
) -> None:
    engine = create_engine("opa", repo_policies, opa_url=opa_stand_in.url, push_policies=True)
    embedded = EmbeddedDecisions(repo_policies.engine())
    assert decisions(repo_policies, engine) == decisions(repo_policies, embedded)
    assert opa_stand_in.data["config"] == repo_policies.data["config"]
    # One request per input, whatever the number of packages that read its kind.
    assert {path for path, _ in opa_stand_in.queries} == {BATCH_PATH}
    assert len(opa_stand_in.queries) == len(list(sample_inputs(repo_policies)))
    assert all(params == {"strict-builtin-errors": ["true"]} for _, params in opa_stand_in.queries)


def test_server_error_is_a_denial_naming_the_reason(
    opa_stand_in: OpaStandIn, repo_policies: PolicySet
) -> None:
    engine = OpaServerEngine(opa_stand_in.url)
    opa_stand_in.fail_with = 500
    policy_input = PolicyInput(
        "waivers", "w.yaml", "w.yaml", {"waivers": [], "today": "2026-11-22", "expiry": []}
    )
    [finding] = evaluate_input(repo_policies, engine, policy_input)
    assert finding.rule_id == "SG-GATE-001"
    assert "HTTP 500 internal_error" in finding.message


def test_missing_package_on_the_server_is_undefined_and_denies(
    opa_stand_in: OpaStandIn, repo_policies: PolicySet
) -> None:
    engine = OpaServerEngine(opa_stand_in.url)  # nothing pushed: every decision is undefined
    policy_input = PolicyInput("waivers", "w.yaml", "w.yaml", {"waivers": []})
    [finding] = evaluate_input(repo_policies, engine, policy_input)
    assert finding.rule_id == "SG-GATE-002"


def test_v0_policy_is_refused_not_upgraded(opa_stand_in: OpaStandIn, tmp_path: Path) -> None:
    engine = OpaServerEngine(opa_stand_in.url)
    v0 = PolicyModule("p.rego", "package p\nallow { true }\n", "p", is_test=False)
    with pytest.raises(EngineError, match="rejected the policies"):
        engine.push(PolicySet(tmp_path, [v0], {"config": {}}))
    assert "p.rego" not in opa_stand_in.modules  # only the batch module was accepted
    assert opa_stand_in.data == {}


def test_unreachable_server_fails_closed(repo_policies: PolicySet) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = OpaServerEngine(f"http://127.0.0.1:{port}", limits=OpaLimits(decision_timeout=0.5))
    policy_input = PolicyInput("waivers", "w.yaml", "w.yaml", {"waivers": []})
    [finding] = evaluate_input(repo_policies, engine, policy_input)
    assert finding.rule_id == "SG-GATE-001" and "unreachable" in finding.message


@pytest.mark.parametrize(
    "url", ["ftp://opa:8181", "http://", "http://opa:8181/v1/data", "http://opa:port"]
)
def test_bad_opa_urls_are_input_errors(url: str) -> None:
    with pytest.raises(Exception, match="--opa-url"):
        parse_opa_url(url)


def test_live_opa_server_parity(repo_policies: PolicySet, opa_binary: str, tmp_path: Path) -> None:
    """A plain `opa run --server`, policies pushed through the REST API (development mode)."""
    server = start_opa(opa_binary, tmp_path)
    try:
        engine = create_engine("opa", repo_policies, opa_url=server.url, push_policies=True)
        embedded = EmbeddedDecisions(repo_policies.engine())
        assert decisions(repo_policies, engine) == decisions(repo_policies, embedded)
    finally:
        server.stop()
