"""One gate run: evaluate inputs, apply waivers, and collect the result for the reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.policy._decision import Check, Finding, GateResult, Severity
from sealgate.policy._engine import DecisionEngine
from sealgate.policy._evaluate import evaluate_input, problem_finding
from sealgate.policy._gate_rules import GATE_RULES
from sealgate.policy._loader import PolicySet
from sealgate.policy._selection import RuleSelection
from sealgate.policy._waivers import apply_waivers, valid_waivers


@dataclass(frozen=True)
class EvaluatedChunk:
    """Inputs evaluated elsewhere (a worker process): their findings, checks and counts."""

    findings: list[Finding]
    checks: list[Check]
    inputs_evaluated: int
    input_errors: int


def run_gate(
    policy_set: PolicySet,
    engine: DecisionEngine,
    inputs: Iterable[PolicyInput | InputProblem | EvaluatedChunk],
    *,
    waivers_file: PolicyInput | InputProblem | None = None,
    fail_on: Severity = Severity.LOW,
    report_stale_waivers: bool = True,
    selection: RuleSelection | None = None,
) -> GateResult:
    """Evaluate every input; only waivers that pass the waiver policy suppress anything.

    Findings of rules that ``selection`` leaves out are dropped before waivers apply, so a
    waiver for a disabled rule is reported as stale.
    """
    result = GateResult(
        rules={**GATE_RULES, **policy_set.rules}, engine=engine.name, fail_on=fail_on
    )

    def evaluate(policy_input: PolicyInput) -> list[Finding]:
        result.inputs_evaluated += 1
        result.checks.extend(
            Check(p.name, policy_input.target, policy_input.file)
            for p in policy_set.packages_for(policy_input.kind)
        )
        return evaluate_input(policy_set, engine, policy_input)

    waiver_findings: list[Finding] = []
    if isinstance(waivers_file, PolicyInput):
        waiver_findings = evaluate(waivers_file)
    elif isinstance(waivers_file, InputProblem):
        waiver_findings = [problem_finding(waivers_file)]
        result.input_errors += 1
    findings = list(waiver_findings)
    for item in inputs:
        if isinstance(item, InputProblem):
            findings.append(problem_finding(item))
            result.input_errors += 1
        elif isinstance(item, EvaluatedChunk):
            findings.extend(item.findings)
            result.checks.extend(item.checks)
            result.inputs_evaluated += item.inputs_evaluated
            result.input_errors += item.input_errors
        else:
            findings.extend(evaluate(item))
    if selection is not None:
        findings = [f for f in findings if selection.applies(f.rule_id)]
    if isinstance(waivers_file, PolicyInput):
        waivers = valid_waivers(waivers_file, waiver_findings)
        findings = apply_waivers(
            findings, waivers, result.rules, waivers_file.file, report_stale=report_stale_waivers
        )
    result.findings = findings
    return result
