"""SARIF 2.1.0 for code scanning: rule metadata from METADATA, repo-relative locations,
waived findings carried as suppressions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sealgate import __version__
from sealgate.policy._decision import Finding, GateResult, RuleInfo, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning ranks security alerts by this score (CVSS-like, 0.0-10.0).
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def render(result: GateResult) -> str:
    rules = sorted(result.rules.values(), key=lambda r: r.id)
    index = {rule.id: position for position, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "sealgate",
                "semanticVersion": __version__,
                "version": __version__,
                "rules": [_rule(rule) for rule in rules],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().resolve().as_uri() + "/"}},
        "invocations": [{"executionSuccessful": result.input_errors == 0}],
        "results": [_result(f, index) for f in result.findings],
    }
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2) + "\n"


def _rule(rule: RuleInfo) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.title.split() if word.isalnum())
        or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {
            "text": rule.remediation,
            "markdown": f"**{rule.title}**\n\n{rule.description}\n\n**Remediation:** {rule.remediation}",
        },
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {
            "tags": ["security", rule.package],
            "precision": "high",
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "problem.severity": rule.severity.value,
        },
    }


def _artifact(file: str) -> dict[str, str]:
    path = Path(file)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": path.as_posix(), "uriBaseId": SRCROOT}


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": _artifact(finding.file),
                    "region": {"startLine": max(finding.line, 1)},
                },
                "logicalLocations": [{"fullyQualifiedName": finding.target, "kind": "resource"}],
            }
        ],
        "partialFingerprints": {"sealgate/v1": _fingerprint(finding)},
        "properties": {"target": finding.target, "path": list(finding.path)},
    }
    if finding.rule_id in index:
        result["ruleIndex"] = index[finding.rule_id]
    if finding.waiver is not None:
        w = finding.waiver
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{w.reason} (owner {w.owner}, expires {w.expires})",
                "properties": {"owner": w.owner, "expires": w.expires},
            }
        ]
    return result


def _fingerprint(finding: Finding) -> str:
    identity = json.dumps([finding.rule_id, finding.target, list(finding.path), finding.message])
    return hashlib.sha256(identity.encode()).hexdigest()
