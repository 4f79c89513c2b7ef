"""From policy inputs to findings: run every applicable policy, fail closed on anything odd."""

from __future__ import annotations

from typing import Any

from sealgate.errors import EngineError
from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.policy import _gate_rules as gate_rules
from sealgate.policy._decision import Finding, RuleInfo, Severity
from sealgate.policy._engine import DecisionEngine, is_undefined
from sealgate.policy._loader import PolicyPackage, PolicySet

_SEVERITIES = frozenset(s.value for s in Severity)


def evaluate_input(
    policy_set: PolicySet, engine: DecisionEngine, policy_input: PolicyInput
) -> list[Finding]:
    packages = policy_set.packages_for(policy_input.kind)
    if not packages:
        return [
            _gate_finding(
                gate_rules.NO_POLICY,
                policy_input,
                f"no loaded policy reads {policy_input.kind!r} inputs",
            )
        ]
    results = engine.evaluate_rules([p.decision for p in packages], policy_input.document)
    findings: list[Finding] = []
    for package, value in zip(packages, results, strict=True):
        findings.extend(_findings_of(package, value, policy_set.rules, policy_input))
    return findings


def problem_finding(problem: InputProblem) -> Finding:
    rule = gate_rules.INPUT_UNREADABLE
    return Finding(
        rule.id, problem.message, rule.severity, problem.file, problem.file, problem.line
    )


def _findings_of(
    package: PolicyPackage, value: Any, rules: dict[str, RuleInfo], policy_input: PolicyInput
) -> list[Finding]:
    if isinstance(value, EngineError):
        return [
            _gate_finding(gate_rules.EVALUATION_FAILED, policy_input, f"{package.name}: {value}")
        ]
    if is_undefined(value):
        return [
            _gate_finding(
                gate_rules.NO_DECISION, policy_input, f"data.{package.decision} is undefined"
            )
        ]
    if not isinstance(value, list):
        return [
            _gate_finding(
                gate_rules.MALFORMED_FINDING,
                policy_input,
                f"data.{package.decision} is a {type(value).__name__}, not a set of findings",
            )
        ]
    return [_finding(package, item, rules, policy_input) for item in value]


def _finding(
    package: PolicyPackage, item: Any, rules: dict[str, RuleInfo], policy_input: PolicyInput
) -> Finding:
    problem = _malformed(package, item, rules)
    if problem:
        return _gate_finding(
            gate_rules.MALFORMED_FINDING, policy_input, f"{package.name}: {problem}"
        )
    path = tuple(item["path"])
    setting = rules[item["id"]].setting
    line = policy_input.settings.get(setting) if setting else None
    return Finding(
        rule_id=item["id"],
        message=" ".join(item["msg"].split()),
        severity=rules[item["id"]].severity,
        target=policy_input.target,
        file=policy_input.file,
        line=line or policy_input.locate(path),
        path=path,
        package=package.name,
    )


def _malformed(package: PolicyPackage, item: Any, rules: dict[str, RuleInfo]) -> str | None:
    if not isinstance(item, dict):
        return f"finding {item!r} is not an object"
    rule_id = item.get("id")
    if rule_id not in package.rule_ids:
        return f"finding id {rule_id!r} is not declared in this package's METADATA"
    if not isinstance(item.get("msg"), str) or not item["msg"].strip():
        return f"finding {rule_id} has no msg"
    # A rule's severity is its METADATA's; a finding may omit it, never contradict it.
    severity = item.get("severity", rules[rule_id].severity.value)
    if severity not in _SEVERITIES:
        return f"finding {rule_id} has severity {severity!r}"
    if severity != rules[rule_id].severity.value:
        return (
            f"finding {rule_id} has severity {severity!r} but its METADATA says "
            f"{rules[rule_id].severity.value!r}"
        )
    path = item.get("path")
    if not isinstance(path, list) or not all(
        isinstance(p, str) or (isinstance(p, int) and not isinstance(p, bool)) for p in path
    ):
        return f"finding {rule_id} has path {path!r}; expected an array of keys and indexes"
    return None


def _gate_finding(rule: RuleInfo, policy_input: PolicyInput, message: str) -> Finding:
    return Finding(
        rule.id,
        message,
        rule.severity,
        policy_input.target,
        policy_input.file,
        policy_input.line,
        package="sealgate.gate",
    )
