"""The promotion gate asks OPA through the same bounded client: a trickling server denies
within the decision timeout, and a 20 MB answer is refused before it reaches the audit log."""

from __future__ import annotations

import time
from pathlib import Path

from sealgate.policy._opa_limits import OpaLimits
from sealgate.promotion._service import open_gate, push

from tests.policy.test_opa_client import fake_opa, huge_declared, trickle
from tests.promotion.conftest import RegistryTarget, Workspace, gate_options


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_push_through_a_trickling_server_is_denied_within_the_decision_timeout(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    for server in fake_opa(trickle):
        limits = OpaLimits(decision_timeout=1.5)
        options = gate_options(
            workspace, file_registry.url, engine="opa", opa_url=server.url, opa_limits=limits
        )
        start = time.monotonic()
        result = push(open_gate(options), workspace.sealed("1.0.0"), "alice")
        assert time.monotonic() - start < 1.5 + 5
        assert not result.allowed
        assert {f.rule_id for f in result.findings} == {"SG-GATE-001"}
        assert all("timed out" in reason for reason in result.reasons)
        assert server.requests == 1  # the promotion packages in one request


def test_a_20_mb_answer_is_refused_and_the_audit_record_stays_small(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    for server in fake_opa(huge_declared):
        options = gate_options(workspace, file_registry.url, engine="opa", opa_url=server.url)
        result = push(open_gate(options), workspace.sealed("1.0.0"), "alice")
        assert not result.allowed
        assert all("answer too large" in f.message for f in result.findings)
        assert _size(Path(file_registry.url.removeprefix("file://"))) < 256 * 1024
