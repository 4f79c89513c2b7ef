"""Rules the gate itself enforces: fail-closed outcomes that no policy can waive."""

from __future__ import annotations

from sealgate.policy._decision import RuleInfo, Severity

_SOURCE = "pipeline/sealgate/policy/_gate_rules.py"


def _rule(rule_id: str, title: str, severity: Severity, description: str, fix: str) -> RuleInfo:
    return RuleInfo(rule_id, title, severity, description, fix, "sealgate.gate", _SOURCE, 1, False)


EVALUATION_FAILED = _rule(
    "SG-GATE-001",
    "Policy evaluation failed",
    Severity.CRITICAL,
    "The engine raised an error while evaluating a policy; the input is denied (fail closed).",
    "Fix the policy error named in the message; run `sealgate policy test` to reproduce it.",
)
NO_DECISION = _rule(
    "SG-GATE-002",
    "Policy produced no decision",
    Severity.CRITICAL,
    "A policy's `deny` rule was undefined for this input, so no decision exists (fail closed).",
    "Make sure the package is loaded and defines `deny contains ...` rules.",
)
MALFORMED_FINDING = _rule(
    "SG-GATE-003",
    "Policy returned a malformed finding",
    Severity.CRITICAL,
    "A finding must be an object with a known rule id, msg and path (an array), and no "
    "severity other than its rule's METADATA severity.",
    "Build findings with data.sealgate.lib.findings.finding(id, msg, path), an id declared in "
    "METADATA; a finding's own severity, if any, must be its METADATA severity.",
)
INPUT_UNREADABLE = _rule(
    "SG-GATE-004",
    "Input could not be parsed",
    Severity.HIGH,
    "A file that the gate must evaluate could not be read or parsed; it is not a pass.",
    "Fix the syntax error named in the message, or remove the file.",
)
STALE_WAIVER = _rule(
    "SG-GATE-005",
    "Waiver matches no finding",
    Severity.INFO,
    "A waiver that suppresses nothing is stale: the issue it covered is gone or the target moved.",
    "Delete the waiver, or correct its rule id and target.",
)
NO_POLICY = _rule(
    "SG-GATE-006",
    "No policy evaluates this input",
    Severity.CRITICAL,
    "No loaded policy reads this kind of input, so nothing decided about it (fail closed).",
    "Load the policy folder for this input kind, or exclude the file from the gate.",
)

GATE_RULES = {
    r.id: r
    for r in (
        EVALUATION_FAILED,
        NO_DECISION,
        MALFORMED_FINDING,
        INPUT_UNREADABLE,
        STALE_WAIVER,
        NO_POLICY,
    )
}
