"""GitHub Actions workflow commands: an annotation on the offending line of each finding."""

from __future__ import annotations

from sealgate.policy._decision import GateResult, Severity
from sealgate.report._common import is_blocking, line_of, ordered, summary_line


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(result: GateResult) -> str:
    lines = []
    for finding in ordered(result.findings):
        # An error is exactly what fails the gate, whatever its severity (as in junit, azuredevops).
        if is_blocking(result, finding):
            command = "error"
        elif finding.suppressed or finding.severity is Severity.INFO:
            command = "notice"
        else:
            command = "warning"
        rule = result.rules.get(finding.rule_id)
        title = f"{finding.rule_id} {rule.title}" if rule else finding.rule_id
        message = finding.message
        if finding.waiver is not None:
            message += f" (waived by {finding.waiver.owner} until {finding.waiver.expires})"
        lines.append(
            f"::{command} file={_property(finding.file)},line={line_of(finding)},"
            f"title={_property(title)}::{_data(message)}"
        )
    lines.append(f"::notice title=sealgate::{_data(summary_line(result))}")
    return "\n".join(lines) + "\n"
