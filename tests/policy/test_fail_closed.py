"""An engine error, an undefined decision or a malformed finding is a denial, never a pass."""

from __future__ import annotations

from pathlib import Path

from sealgate.inputs._model import PolicyInput
from sealgate.policy._engine import EmbeddedDecisions
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import load_policy_set

HEADER = """\
# METADATA
# title: T
# custom:
#   input: t
package sealgate.t.check

import rego.v1

# METADATA
# title: Broken
# description: A rule used to exercise failure handling.
# custom:
#   id: SG-T-001
#   severity: high
#   remediation: None.
"""


def findings_for(tmp_path: Path, body: str, document: object) -> list[tuple[str, str]]:
    folder = tmp_path / "policies" / "t"
    folder.mkdir(parents=True)
    (folder / "policy.rego").write_text(HEADER + body)
    policy_set = load_policy_set([tmp_path / "policies"])
    policy_input = PolicyInput(kind="t", target="x.yaml", file="x.yaml", document=document)
    return [
        (f.rule_id, f.message)
        for f in evaluate_input(policy_set, EmbeddedDecisions(policy_set.engine()), policy_input)
    ]


def test_runtime_error_denies_with_its_location(tmp_path: Path) -> None:
    body = 'deny contains {"id": "SG-T-001", "msg": "m", "severity": "high", "path": []} if {\n\tto_number(input.n) > 1\n}\n'
    [(rule, message)] = findings_for(tmp_path, body, {"n": "not a number"})
    assert rule == "SG-GATE-001"
    assert "policy.rego:17" in message and "could not parse string as number" in message


def test_conflicting_rule_values_deny(tmp_path: Path) -> None:
    body = 'deny contains {"id": "SG-T-001", "msg": "m", "severity": "high", "path": []} if level == 1\n'
    body += "level := input.a\nlevel := input.b\n"
    [(rule, message)] = findings_for(tmp_path, body, {"a": 1, "b": 2})
    assert rule == "SG-GATE-001" and "conflict" in message


def test_undefined_decision_denies(tmp_path: Path) -> None:
    body = 'deny := {"id": "SG-T-001"} if input.never\n'
    [(rule, message)] = findings_for(tmp_path, body, {})
    assert rule == "SG-GATE-002" and "undefined" in message


def test_finding_with_undeclared_id_is_malformed(tmp_path: Path) -> None:
    body = 'deny contains {"id": "SG-T-999", "msg": "m", "severity": "high", "path": []} if true\n'
    [(rule, message)] = findings_for(tmp_path, body, {})
    assert rule == "SG-GATE-003" and "SG-T-999" in message


def test_finding_without_path_array_is_malformed(tmp_path: Path) -> None:
    body = (
        'deny contains {"id": "SG-T-001", "msg": "m", "severity": "high", "path": "a.b"} if true\n'
    )
    [(rule, _)] = findings_for(tmp_path, body, {})
    assert rule == "SG-GATE-003"


def test_finding_that_is_a_string_is_malformed(tmp_path: Path) -> None:
    [(rule, _)] = findings_for(tmp_path, 'deny contains "bad input" if true\n', {})
    assert rule == "SG-GATE-003"


def test_input_kind_without_policy_denies(tmp_path: Path) -> None:
    body = 'deny contains {"id": "SG-T-001", "msg": "m", "severity": "high", "path": []} if input.bad\n'
    folder = tmp_path / "policies" / "t"
    folder.mkdir(parents=True)
    (folder / "policy.rego").write_text(HEADER + body)
    policy_set = load_policy_set([tmp_path / "policies"])
    orphan = PolicyInput(kind="unknown", target="y", file="y", document={})
    [finding] = evaluate_input(policy_set, EmbeddedDecisions(policy_set.engine()), orphan)
    assert finding.rule_id == "SG-GATE-006"


def test_clean_input_yields_nothing(tmp_path: Path) -> None:
    body = 'deny contains {"id": "SG-T-001", "msg": "m", "severity": "high", "path": []} if input.bad\n'
    assert findings_for(tmp_path, body, {"bad": False}) == []
