"""SARIF 2.1.0 for code scanning: rule metadata from METADATA, repo-relative locations,
waived findings carried as suppressions."""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections import Counter
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path
from typing import Any

import semver

from sealgate import __version__
from sealgate._paths import report_root
from sealgate.policy._decision import Finding, GateResult, RuleInfo, Severity
from sealgate.report._common import line_of

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
DISTRIBUTION = "sealgate"
# Used when the installed distribution's metadata names no Homepage (a source checkout).
DEFAULT_HOMEPAGE = "https://github.com/sealgate/sealgate"

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
    names = rule_names(rules)
    driver: dict[str, Any] = {
        "name": "sealgate",
        "informationUri": information_uri(),
        "version": __version__,
    }
    # SARIF requires SemVer 2.0 here; a version that is not one is left to `version` alone.
    if semver.Version.is_valid(__version__):
        driver["semanticVersion"] = __version__
    driver["rules"] = [_rule(rule, names[rule.id]) for rule in rules]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": report_root().as_uri() + "/"}},
        "invocations": [{"executionSuccessful": result.input_errors == 0}],
        "results": [_result(f, index) for f in result.findings],
    }
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2) + "\n"


def information_uri() -> str:
    """The Homepage `Project-URL` of the installed distribution, else the project's homepage."""
    entries: list[str]
    try:
        entries = metadata(DISTRIBUTION).get_all("Project-URL") or []
    except PackageNotFoundError:
        entries = []
    for entry in entries:
        label, _, url = entry.partition(",")
        url = url.strip()
        if _url_label(label) == "homepage" and url.startswith(("https://", "http://")):
            return url
    return DEFAULT_HOMEPAGE


def _url_label(label: str) -> str:
    # Core metadata compares Project-URL labels without case, punctuation or whitespace.
    ignored = string.punctuation + string.whitespace
    return "".join(c for c in label if c not in ignored).lower()


_APOSTROPHES = re.compile(r"['\u2019]")
_WORDS = re.compile(r"[^\W_]+")


def pascal_case(text: str) -> str:
    """Words of letters and digits, each capitalized: "HSM-backed" -> "HsmBacked"."""
    return "".join(word.capitalize() for word in _WORDS.findall(_APOSTROPHES.sub("", text)))


def rule_names(rules: Iterable[RuleInfo]) -> dict[str, str]:
    """A readable, unique SARIF `name` per rule id: its title in PascalCase; rules whose titles
    give the same name are told apart by their id."""
    bases = {rule.id: pascal_case(rule.title) or pascal_case(rule.id) for rule in rules}
    counts = Counter(bases.values())
    taken = {base for base, count in counts.items() if count == 1}
    names: dict[str, str] = {}
    for rule_id in sorted(bases):
        base = bases[rule_id]
        if counts[base] == 1:
            names[rule_id] = base
            continue
        candidate = stem = base + pascal_case(rule_id)
        suffix = 2
        while candidate in taken:
            candidate, suffix = f"{stem}{suffix}", suffix + 1
        taken.add(candidate)
        names[rule_id] = candidate
    return names


def _rule(rule: RuleInfo, name: str) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": name,
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
                    "region": {"startLine": line_of(finding)},
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
