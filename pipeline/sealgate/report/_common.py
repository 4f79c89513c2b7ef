"""Shared wording and ordering for every report format."""

from __future__ import annotations

from sealgate.policy._decision import Finding, GateResult


def ordered(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by file and line: the order a reviewer reads in."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.file, f.line, f.rule_id, f.message))


def summary_line(result: GateResult) -> str:
    blocking = len(result.blocking)
    suppressed = len(result.suppressed)
    below = len(result.findings) - blocking - suppressed
    verdict = "PASS" if result.passed else "FAIL"
    parts = [f"{blocking} blocking finding{'s' if blocking != 1 else ''}"]
    if below:
        parts.append(f"{below} below fail-on {result.fail_on.value}")
    if suppressed:
        parts.append(f"{suppressed} suppressed by waivers")
    if result.input_errors:
        parts.append(
            f"{result.input_errors} unreadable input{'s' if result.input_errors != 1 else ''}"
        )
    inputs = f"{result.inputs_evaluated} input{'s' if result.inputs_evaluated != 1 else ''}"
    return f"{verdict}: {', '.join(parts)} in {inputs} ({result.engine} engine)"


def line_of(finding: Finding) -> int:
    """The 1-based line every format reports (a finding without a known line is on line 1)."""
    return max(finding.line, 1)


def location(finding: Finding) -> str:
    return f"{finding.file}:{line_of(finding)}"


def path_text(finding: Finding) -> str:
    out = ""
    for part in finding.path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def is_blocking(result: GateResult, finding: Finding) -> bool:
    return not finding.suppressed and finding.severity.rank >= result.fail_on.rank
