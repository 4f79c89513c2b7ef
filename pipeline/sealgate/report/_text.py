"""Plain text for terminals and logs: one finding per line, then the verdict."""

from __future__ import annotations

from sealgate.policy._decision import GateResult
from sealgate.report._common import location, ordered, summary_line


def render(result: GateResult) -> str:
    lines = []
    for finding in ordered(result.findings):
        status = "waived" if finding.suppressed else finding.severity.value
        lines.append(f"{location(finding)}: {status} {finding.rule_id} {finding.message}")
        if finding.waiver is not None:
            w = finding.waiver
            lines.append(f"    waived by {w.owner} until {w.expires}: {w.reason}")
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"
