"""The OPA client against misbehaving servers: each failure is a denial that names its reason,
and no server can hold a decision (or a run) past its deadline."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sealgate.errors import DeniedError, InputError
from sealgate.gate import Override, load_config
from sealgate.inputs._model import PolicyInput
from sealgate.policy import builtin_policy_root
from sealgate.policy._bundle import build_bundle
from sealgate.policy._engine import EmbeddedDecisions
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import PolicySet, load_policy_set
from sealgate.policy._opa import OpaServerEngine
from sealgate.policy._opa_http import (
    DEADLINE_PASSED,
    MALFORMED,
    SERVER_ERROR,
    TIMED_OUT,
    TOO_LARGE,
    UNREACHABLE,
    OpaFailure,
)
from sealgate.policy._opa_limits import OpaLimits
from sealgate.policy._testing import sample_cases
from sealgate.runtime import unseal_model
from sealgate.runtime._authorization import build_authorizer
from sealgate.sealing import (
    generate_recipient_key,
    generate_signing_key,
    load_signing_private_key,
    load_trust,
    parse_identity,
    parse_recipient,
    seal_model,
)

from tests.conftest import REPO
from tests.rego_tools import tool
from tests.sealing.conftest import write_model

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class FakeOpa(ThreadingHTTPServer):
    """Answers every POST with ``behaviour`` and counts the requests."""

    daemon_threads = True

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.requests = 0
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpa
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests += 1
        with contextlib.suppress(OSError):  # the client cut the connection, as it should
            self.server.behaviour(self)


def fake_opa(behaviour: Behaviour) -> Iterator[FakeOpa]:
    server = FakeOpa(behaviour)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def trickle(handler: BaseHTTPRequestHandler) -> None:
    """One byte of a valid answer every 0.3 s: every socket read succeeds, none finishes."""
    answer = b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{"result": {}}' + b" " * 26
    for byte in answer:
        if handler.server.stop.wait(0.3):  # type: ignore[attr-defined]
            return
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()


def trickle_body(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    while not handler.server.stop.wait(0.3):  # type: ignore[attr-defined]
        handler.wfile.write(b" ")
        handler.wfile.flush()


def hang(handler: BaseHTTPRequestHandler) -> None:
    handler.server.stop.wait(30)  # type: ignore[attr-defined]


def huge_undeclared(handler: BaseHTTPRequestHandler) -> None:
    """A 20 MB answer without Content-Length (read until the connection closes)."""
    handler.send_response(200)
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(b'{"result": {"x": "')
    chunk = b"a" * 65536
    for _ in range(20 * 1024 * 1024 // len(chunk)):
        handler.wfile.write(chunk)
    handler.close_connection = True


def huge_declared(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, 200, b'{"result": {"x": "' + b"a" * (20 * 1024 * 1024) + b'"}}')


def not_json(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, 200, b"<html>proxy error</html>")


def not_an_object(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, 200, b"[1, 2]")


def broken_off(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100")
    handler.end_headers()
    handler.wfile.write(b'{"result": ')
    handler.close_connection = True


def server_error(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, 500, b'{"code": "internal_error", "message": "boom"}')


@pytest.fixture(scope="module")
def repo_policies() -> PolicySet:
    return load_policy_set([REPO / "policies"])


def kubernetes_input(n: int = 0) -> PolicyInput:
    document = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{n}"}, "spec": {}}
    return PolicyInput("kubernetes", f"pod{n}.yaml", f"pod{n}.yaml", document)


def denial_reasons(policy_set: PolicySet, engine: OpaServerEngine, item: PolicyInput) -> set[str]:
    findings = evaluate_input(policy_set, engine, item)
    assert findings and all(f.rule_id == "SG-GATE-001" for f in findings)
    # Every package that reads the kind is denied, by the one failed request.
    assert {f.message.split(":")[0] for f in findings} == {
        p.name for p in policy_set.packages_for(item.kind)
    }
    return {f.message for f in findings}


@pytest.mark.parametrize(
    ("behaviour", "reason", "words"),
    [
        (trickle, TIMED_OUT, "timed out: no complete answer within the 1.5 s decision timeout"),
        (trickle_body, TIMED_OUT, "timed out"),
        (hang, TIMED_OUT, "timed out"),
        (huge_undeclared, TOO_LARGE, "answer too large: over the 1048576-byte cap"),
        (huge_declared, TOO_LARGE, "answer too large: over the 1048576-byte cap"),
        (not_json, MALFORMED, "malformed answer (not JSON"),
        (not_an_object, MALFORMED, "malformed answer (not a JSON object)"),
        (server_error, SERVER_ERROR, "HTTP 500 internal_error: boom"),
        (broken_off, UNREACHABLE, "unreachable: its answer broke off"),
    ],
)
def test_a_misbehaving_server_is_a_named_denial_within_the_decision_timeout(
    repo_policies: PolicySet, behaviour: Behaviour, reason: str, words: str
) -> None:
    for server in fake_opa(behaviour):
        limits = OpaLimits(decision_timeout=1.5, max_answer_bytes=1024 * 1024)
        engine = OpaServerEngine(server.url, limits=limits)
        start = time.monotonic()
        failure = engine.evaluate_rules(["sealgate.a.deny", "sealgate.b.deny"], {})[0]
        assert isinstance(failure, OpaFailure) and failure.reason == reason
        assert words in str(failure)
        messages = denial_reasons(repo_policies, engine, kubernetes_input())
        assert all(words in m for m in messages)
        assert time.monotonic() - start < 2 * 1.5 + 3  # two requests, each cut at 1.5 s
        assert server.requests == 2  # one request per input, not one per package


def test_connection_refused_is_unreachable(repo_policies: PolicySet) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = OpaServerEngine(f"http://127.0.0.1:{port}")
    [failure] = engine.evaluate_rules(["sealgate.a.deny"], {})
    assert isinstance(failure, OpaFailure) and failure.reason == UNREACHABLE
    assert all(
        "unreachable" in m for m in denial_reasons(repo_policies, engine, kubernetes_input())
    )


def test_after_the_run_deadline_inputs_are_denied_without_asking(repo_policies: PolicySet) -> None:
    for server in fake_opa(hang):
        engine = OpaServerEngine(
            server.url, limits=OpaLimits(decision_timeout=1.0, run_deadline=2.5)
        )
        start = time.monotonic()
        outcomes = [engine.evaluate_rules(["sealgate.a.deny"], {})[0] for _ in range(10)]
        elapsed = time.monotonic() - start
        reasons = [o.reason for o in outcomes if isinstance(o, OpaFailure)]
        # 1 s, 1 s, then the 0.5 s left of the run, then nothing more is asked.
        assert reasons == [TIMED_OUT] * 3 + [DEADLINE_PASSED] * 7
        assert "the run's 2.5 s deadline" in str(outcomes[2])
        assert server.requests == 3
        assert elapsed < 2.5 + 2


def test_a_healthy_answer_reuses_one_connection() -> None:
    connections: set[int] = set()

    def answer(handler: BaseHTTPRequestHandler) -> None:
        connections.add(handler.client_address[1])
        reply(handler, 200, b'{"result": {"sealgate.a": [], "sealgate.b": []}}')

    for server in fake_opa(answer):
        engine = OpaServerEngine(server.url)
        for _ in range(5):
            assert engine.evaluate_rules(["sealgate.a.deny", "sealgate.b.deny"], {}) == [[], []]
        assert server.requests == 5 and len(connections) == 1


def test_check_against_a_trickling_server_ends_within_its_deadline(tmp_path: Path) -> None:
    """`sealgate check` over ten Dockerfiles and a pod: each input is denied with its reason,
    and the run ends at its deadline however slowly the server answers."""
    for n in range(10):
        (tmp_path / f"svc{n}").mkdir()
        (tmp_path / f"svc{n}" / "Dockerfile").write_text("FROM python:3.12\nUSER app\n")
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: []\n"
    )
    for server in fake_opa(trickle):
        deadline = 4.0
        start = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "sealgate", "check", "--no-config", "--engine", "opa",
             "--opa-url", server.url, "--opa-timeout", "1.5", "--opa-deadline", str(deadline),
             "--format", "json", str(tmp_path)],
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
        )  # fmt: skip
        elapsed = time.monotonic() - start
        assert run.returncode == 1, run.stderr
        report = json.loads(run.stdout)
        findings = report["findings"]
        assert findings and {f["id"] for f in findings} == {"SG-GATE-001"}
        denied = {f["file"] for f in findings}
        assert len(denied) == 11  # every input, the pod's four packages in one request
        messages = " ".join(f["message"] for f in findings)
        assert "timed out: no complete answer within the 1.5 s decision timeout" in messages
        assert "deadline passed" in messages
        assert server.requests <= 4  # 1.5 s + 1.5 s + 1 s, then nothing more is asked
        assert elapsed < deadline + 10


def test_limits_come_from_the_configuration_file_and_flags_win(tmp_path: Path) -> None:
    (tmp_path / ".sealgate.yaml").write_text(
        "engine: opa\nopa_url: http://127.0.0.1:8181\n"
        "opa_timeout: 2\nopa_deadline: 30.5\nopa_max_answer: 65536\n"
    )
    config = load_config(tmp_path, overrides={"opa_timeout": Override(1.0, "--opa-timeout")})
    assert config.opa_limits == OpaLimits(1.0, 30.5, 65536)
    assert config.sources["opa_deadline"] == ".sealgate.yaml:4"
    assert load_config(tmp_path, read_file=False).opa_limits == OpaLimits(5.0, 120.0, 4 << 20)


@pytest.mark.parametrize(
    "setting", ["opa_timeout: 0", "opa_deadline: -1", "opa_timeout: soon", "opa_max_answer: 1.5"]
)
def test_a_limit_that_cannot_bound_anything_is_an_input_error(tmp_path: Path, setting: str) -> None:
    (tmp_path / ".sealgate.yaml").write_text(setting + "\n")
    with pytest.raises(InputError, match=r"\.sealgate\.yaml:1: opa_"):
        load_config(tmp_path)


def test_unseal_through_a_hung_server_is_denied_within_the_decision_timeout(
    tmp_path: Path,
) -> None:
    """The unseal path builds the same client: a hung server denies, and unwraps nothing."""
    write_model(tmp_path / "model")
    generate_signing_key(tmp_path / "signer")
    generate_recipient_key(tmp_path / "rcpt")
    seal_model(
        tmp_path / "model",
        tmp_path / "sealed",
        name="ranker",
        version="1.0",
        signing_key=load_signing_private_key(tmp_path / "signer.key"),
        recipients=[parse_recipient(f"local:{tmp_path / 'rcpt.pub'}")],
    )
    identity = parse_identity(f"local:{tmp_path / 'rcpt.key'}")
    log: list[str] = []
    for server in fake_opa(hang):
        authorize = build_authorizer(
            [identity],
            environment="prod",
            registry_url=None,
            policies=[builtin_policy_root()],
            engine="opa",
            opa_url=server.url,
            opa_push=False,
            log=log.append,
            opa_limits=OpaLimits(decision_timeout=1.0),
        )
        start = time.monotonic()
        with pytest.raises(DeniedError, match="timed out"):
            unseal_model(
                tmp_path / "sealed",
                tmp_path / "out",
                identities=[identity],
                trust=load_trust(tmp_path / "signer.pub"),
                allow_disk=True,
                authorize=authorize,
            )
        assert time.monotonic() - start < 1.0 + 5
        assert server.requests == 1
    assert json.loads(log[0])["decision"] == "deny"
    assert not (tmp_path / "out").exists()


def test_a_bundle_fed_opa_server_answers_each_input_in_one_request(
    repo_policies: PolicySet, tmp_path: Path
) -> None:
    """The batch module ships in the signed bundle: a real OPA that loads only the bundle
    decides like the embedded engine, one request per input."""
    opa = tool("opa")
    key = ec.generate_private_key(ec.SECP256R1())
    build_bundle(repo_policies, tmp_path / "bundle.tar.gz", key, key_id="test")
    (tmp_path / "key.pem").write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [opa, "run", "--server", f"--addr=127.0.0.1:{port}", "--log-level=error",
         "--bundle", str(tmp_path / "bundle.tar.gz"), "--verification-key",
         str(tmp_path / "key.pem"), "--verification-key-id", "test", "--signing-alg", "ES256", "--scope", "write"],
        cwd=tmp_path,
    )  # fmt: skip
    try:
        give_up = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < give_up
                time.sleep(0.1)
        engine = OpaServerEngine(f"http://127.0.0.1:{port}")
        embedded = EmbeddedDecisions(repo_policies.engine())
        for package in repo_policies.packages.values():
            for case in sample_cases(package):
                for item in case.inputs():
                    expected = evaluate_input(repo_policies, embedded, item)
                    assert evaluate_input(repo_policies, engine, item) == expected, case.name
        assert engine.batched
    finally:
        server.terminate()
        server.wait(timeout=10)
