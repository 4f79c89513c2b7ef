"""A rule's severity is written once, in its METADATA.

A finding may omit ``severity`` (the gate takes the METADATA one) but never contradict it: a
finding claiming ``critical`` under METADATA ``low`` used to pass ``policy test`` and report
its own severity; now it is a malformed finding (SG-GATE-003, fail closed).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.inputs._model import PolicyInput
from sealgate.policy._decision import Severity
from sealgate.policy._engine import create_engine
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import load_policy_set

from tests.conftest import run_sealgate

POLICY = """# METADATA
# title: Demo
# description: Demo policy.
# custom:
#   input: kubernetes
package acme.containers.demo

# METADATA
# title: Pod named bad
# description: A pod must not be named bad.
# custom:
#   id: ACME-K8S-001
#   severity: low
#   remediation: Rename the pod.
deny contains finding if {{
\tinput.metadata.name == "bad"
\tfinding := {finding}
}}
"""
TEST = """package acme.containers.demo_test

import data.acme.containers.demo

test_bad if count(demo.deny) == 1 with input as {"metadata": {"name": "bad"}}
"""
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers: []\n"
SUITE = "cases:\n  - input: denied/pod.yaml\n    expect: [ACME-K8S-001]\n"
WITHOUT = '{"id": "ACME-K8S-001", "msg": "bad pod", "path": ["metadata", "name"]}'
CRITICAL = (
    '{"id": "ACME-K8S-001", "msg": "bad pod", "severity": "critical", "path": ["metadata", "name"]}'
)
LOW = WITHOUT.replace('"path"', '"severity": "low", "path"')


def _tree(tmp_path: Path, finding: str) -> Path:
    folder = tmp_path / "policies" / "containers" / "demo"
    (folder / "samples" / "denied").mkdir(parents=True)
    (tmp_path / "policies" / "data").mkdir()
    (folder / "policy.rego").write_text(POLICY.format(finding=finding))
    (folder / "policy_test.rego").write_text(TEST)
    (folder / "samples" / "suite.yaml").write_text(SUITE)
    (folder / "samples" / "denied" / "pod.yaml").write_text(POD)
    return tmp_path / "policies"


def _findings(root: Path) -> list[tuple[str, Severity, str]]:
    policy_set = load_policy_set([root])
    policy_input = PolicyInput(
        kind="kubernetes", document={"metadata": {"name": "bad"}}, target="pod", file="pod.yaml"
    )
    engine = create_engine("embedded", policy_set)
    return [
        (f.rule_id, f.severity, f.message) for f in evaluate_input(policy_set, engine, policy_input)
    ]


@pytest.mark.parametrize("finding", [WITHOUT, LOW], ids=["omitted", "equal"])
def test_the_severity_is_the_metadata_one(tmp_path: Path, finding: str) -> None:
    assert _findings(_tree(tmp_path, finding)) == [("ACME-K8S-001", Severity.LOW, "bad pod")]


def test_a_contradicting_severity_is_a_malformed_finding(tmp_path: Path) -> None:
    ((rule, severity, message),) = _findings(_tree(tmp_path, CRITICAL))
    assert (rule, severity) == ("SG-GATE-003", Severity.CRITICAL)
    assert "severity 'critical' but its METADATA says 'low'" in message


def test_policy_test_no_longer_passes_a_contradicting_severity(tmp_path: Path) -> None:
    root = _tree(tmp_path, CRITICAL)
    run = run_sealgate("policy", "test", str(root), cwd=tmp_path)
    assert run.code == 1, run.stdout + run.stderr
    assert "expected ['ACME-K8S-001'], got ['SG-GATE-003']" in run.stdout + run.stderr
    _tree(tmp_path / "fixed", LOW)
    fixed = run_sealgate("policy", "test", str(tmp_path / "fixed" / "policies"), cwd=tmp_path)
    assert fixed.code == 0, fixed.stdout + fixed.stderr
