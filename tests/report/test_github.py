"""`--format github`: an annotation is an error exactly when its finding fails the gate."""

from __future__ import annotations

from sealgate.policy._decision import Finding, GateResult, RuleInfo, Severity, Waiver
from sealgate.report import render


def finding(rule_id: str, severity: Severity, waived: bool = False) -> Finding:
    waiver = Waiver(rule_id, "a.yaml", "o@example.com", "r", "2030-01-01", 1) if waived else None
    return Finding(rule_id, f"{rule_id} message", severity, "a.yaml", "a.yaml", 4, waiver=waiver)


def annotations(*findings: Finding, fail_on: Severity) -> list[str]:
    rules = {
        f.rule_id: RuleInfo(f.rule_id, "Title", f.severity, "", "", "p", "policy.rego", 1)
        for f in findings
    }
    result = GateResult(rules=rules, findings=list(findings), inputs_evaluated=1, fail_on=fail_on)
    return render("github", result).splitlines()


def test_a_blocking_low_finding_is_an_error_not_a_warning() -> None:
    [line, summary] = annotations(finding("SG-T-001", Severity.LOW), fail_on=Severity.LOW)
    assert line == "::error file=a.yaml,line=4,title=SG-T-001 Title::SG-T-001 message"
    assert summary.startswith("::notice title=sealgate::FAIL: 1 blocking finding in 1 input")


def test_below_the_threshold_is_a_warning_and_info_or_waived_a_notice() -> None:
    lines = annotations(
        finding("SG-T-001", Severity.HIGH),
        finding("SG-T-002", Severity.INFO),
        finding("SG-T-003", Severity.CRITICAL, waived=True),
        fail_on=Severity.CRITICAL,
    )
    assert [line.split(" ", 1)[0] for line in lines] == [
        "::notice",  # waived critical
        "::warning",  # high, below fail-on critical
        "::notice",  # info
        "::notice",  # the verdict
    ]
    assert lines[-1] == (
        "::notice title=sealgate::PASS: 0 blocking findings, 2 below fail-on critical, "
        "1 suppressed by waivers in 1 input (embedded engine)"
    )
