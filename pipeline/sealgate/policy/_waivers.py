"""Waivers: exact, owned, expiring exceptions that suppress (never hide) a finding.

The waivers file is itself a policy input (kind ``waivers``): the waiver policy decides which
entries are malformed, expired or too long-lived, and those findings are never waivable. Only
entries with no finding of their own suppress anything; one that suppresses nothing is stale.
"""

from __future__ import annotations

from collections.abc import Iterable

from sealgate.inputs._model import PolicyInput
from sealgate.policy import _gate_rules as gate_rules
from sealgate.policy._decision import Finding, RuleInfo, Waiver


def valid_waivers(waiver_file: PolicyInput, findings: Iterable[Finding]) -> list[Waiver]:
    """Entries the waiver policy found nothing wrong with."""
    findings = list(findings)
    entries = waiver_file.document.get("waivers")
    if not isinstance(entries, list):
        return []
    flagged = {
        f.path[1]
        for f in findings
        if f.file == waiver_file.file and len(f.path) > 1 and f.path[0] == "waivers"
    }
    if any(f.file == waiver_file.file and len(f.path) < 2 for f in findings):
        return []  # the file as a whole is wrong: trust none of it
    waivers = []
    for index, entry in enumerate(entries):
        if index in flagged or not isinstance(entry, dict):
            continue
        waivers.append(
            Waiver(
                rule=str(entry["rule"]),
                target=str(entry["target"]),
                owner=str(entry["owner"]),
                reason=str(entry["reason"]),
                expires=str(entry["expires"]),
                line=waiver_file.locate(("waivers", index)),
            )
        )
    return waivers


def apply_waivers(
    findings: list[Finding],
    waivers: list[Waiver],
    rules: dict[str, RuleInfo],
    waiver_file: str,
    *,
    report_stale: bool = True,
) -> list[Finding]:
    """Mark waived findings as suppressed and append one stale-waiver finding per unused waiver.

    ``report_stale`` is off when only part of the repository was checked: a waiver for a file
    that was not looked at is not stale.
    """
    by_key = {(w.rule, w.target): w for w in waivers}
    used: set[tuple[str, str]] = set()
    result = []
    for finding in findings:
        key = (finding.rule_id, finding.target)
        waiver = by_key.get(key)
        rule = rules.get(finding.rule_id) or gate_rules.GATE_RULES.get(finding.rule_id)
        if waiver is not None and rule is not None and rule.waivable:
            used.add(key)
            finding = finding.waived_by(waiver)
        result.append(finding)
    stale = gate_rules.STALE_WAIVER
    for waiver in waivers if report_stale else []:
        if (waiver.rule, waiver.target) not in used:
            result.append(
                Finding(
                    stale.id,
                    f"waiver for {waiver.rule} on {waiver.target} (owner {waiver.owner}) "
                    "matches no finding",
                    stale.severity,
                    waiver_file,
                    waiver_file,
                    waiver.line,
                    package="sealgate.gate",
                )
            )
    return result
