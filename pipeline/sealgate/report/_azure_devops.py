"""Azure Pipelines logging commands: an issue on the offending line of each finding that is not
waived, then the verdict and, when there is something to report, the task result."""

from __future__ import annotations

from sealgate.policy._decision import GateResult
from sealgate.report._common import is_blocking, line_of, ordered, summary_line

# How the agent reads `##vso[area.action key=value;...]data` (microsoft/azure-pipelines-agent,
# src/Agent.Sdk/CommandStringConvertor.cs and docs/design/percentEncoding.md): properties end at
# the first `]` and are split on `;`; each property value and the data are then unescaped
# `%3B` -> `;`, `%0D` -> CR, `%0A` -> LF, `%5D` -> `]`, and after those `%AZP25` -> `%` (the
# DECODE_PERCENTS knob, on by default since March 2021). So `%` is escaped first: a literal
# `%3B` in a message then reads back as `%3B`, not `;`. Learn's logging-commands page documents
# the command and property names and the task.complete results, but not this escaping.
_PERCENT = ("%", "%AZP25")
_RESERVED = (("\r", "%0D"), ("\n", "%0A"), (";", "%3B"), ("]", "%5D"))

# The documented task.complete results: Succeeded, SucceededWithIssues, Failed.
FAILED = "Failed"
SUCCEEDED_WITH_ISSUES = "SucceededWithIssues"


def escape(text: str) -> str:
    """A property value or message as the agent will read it back unchanged."""
    text = text.replace(*_PERCENT)
    for token, replacement in _RESERVED:
        text = text.replace(token, replacement)
    return text


def render(result: GateResult) -> str:
    lines = []
    warnings = 0
    for finding in ordered(result.findings):
        if finding.suppressed:
            continue  # accepted by a waiver: counted in the summary, not raised as an issue
        blocking = is_blocking(result, finding)
        warnings += not blocking
        properties = {
            "type": "error" if blocking else "warning",
            "sourcepath": finding.file,
            "linenumber": str(line_of(finding)),
            "columnnumber": "1",
            "code": finding.rule_id,
        }
        listed = ";".join(f"{key}={escape(value)}" for key, value in properties.items())
        lines.append(f"##vso[task.logissue {listed}]{escape(finding.message)}")
    lines.append(summary_line(result))
    if not result.passed:
        lines.append(f"##vso[task.complete result={FAILED};]")
    elif warnings:
        lines.append(f"##vso[task.complete result={SUCCEEDED_WITH_ISSUES};]")
    return "\n".join(lines) + "\n"
