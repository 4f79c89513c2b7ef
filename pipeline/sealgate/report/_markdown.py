"""Markdown for a pull-request comment: verdict, blocking findings, then the rest folded."""

from __future__ import annotations

from sealgate.policy._decision import Finding, GateResult
from sealgate.report._common import is_blocking, location, ordered, summary_line

MAX_ROWS = 200


def cell(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _table(result: GateResult, findings: list[Finding], *, waived: bool = False) -> list[str]:
    header = ["Severity", "Rule", "Location", "Finding"]
    if waived:
        header += ["Owner", "Expires", "Reason"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for finding in findings[:MAX_ROWS]:
        rule = result.rules.get(finding.rule_id)
        title = f"`{finding.rule_id}` {cell(rule.title)}" if rule else f"`{finding.rule_id}`"
        row = [
            finding.severity.value,
            title,
            f"`{cell(location(finding))}`",
            cell(finding.message),
        ]
        if waived and finding.waiver is not None:
            w = finding.waiver
            row += [cell(w.owner), w.expires, cell(w.reason)]
        lines.append("| " + " | ".join(row) + " |")
    if len(findings) > MAX_ROWS:
        lines.append(f"\n... and {len(findings) - MAX_ROWS} more (see the SARIF or JSON report).")
    return lines


def render(result: GateResult) -> str:
    findings = ordered(result.findings)
    blocking = [f for f in findings if is_blocking(result, f)]
    waived = [f for f in findings if f.suppressed]
    other = [f for f in findings if not f.suppressed and not is_blocking(result, f)]
    mark = "passed" if result.passed else "failed"
    out = [f"### sealgate gate {mark}", "", summary_line(result), ""]
    if blocking:
        out += [*_table(result, blocking), ""]
    for title, group, is_waived in (
        ("Suppressed by waivers", waived, True),
        ("Below the failure threshold", other, False),
    ):
        if group:
            out += [f"<details><summary>{title} ({len(group)})</summary>", ""]
            out += [*_table(result, group, waived=is_waived), "", "</details>", ""]
    return "\n".join(out).rstrip() + "\n"
