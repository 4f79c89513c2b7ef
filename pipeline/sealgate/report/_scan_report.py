"""A model scan as a gate result, so that the SARIF (and JSON) writers report it."""

from __future__ import annotations

from pathlib import Path

from sealgate.policy._decision import Finding, GateResult, RuleInfo, Severity
from sealgate.scanning import ModelScan
from sealgate.scanning._catalog import rule_for

PACKAGE = "sealgate.scanning"


def scan_result(scan: ModelScan, model_dir: Path) -> GateResult:
    rules: dict[str, RuleInfo] = {}
    findings: list[Finding] = []
    for index, file in enumerate(scan.files):
        for position, item in enumerate(file.findings):
            rule = rule_for(item.id)
            severity = Severity(item.severity)
            if item.id not in rules or rules[item.id].severity.rank < severity.rank:
                rules[item.id] = RuleInfo(
                    id=item.id,
                    title=rule.title,
                    severity=severity,
                    description=rule.description,
                    remediation=rule.remediation,
                    package=PACKAGE,
                    file=PACKAGE,
                    line=1,
                )
            findings.append(
                Finding(
                    rule_id=item.id,
                    message=item.message,
                    severity=severity,
                    target=file.path,
                    file=str(model_dir / file.path),
                    line=1,
                    path=("files", index, "findings", position),
                    package=PACKAGE,
                )
            )
    return GateResult(rules=rules, findings=findings, inputs_evaluated=len(scan.files))
