"""What a scan found: per file its format and findings, and which scanner looked.

The same shape is signed into the seal header (``ModelScan.to_json``) and parsed back
strictly from it (``parse_model_scan``): unknown fields and wrong types are tampering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low")
MAX_FINDINGS_PER_FILE = 64
MAX_MESSAGE = 300
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class ScanFormatError(ValueError):
    """A scan document that does not have the expected shape."""


@dataclass(frozen=True)
class ScanFinding:
    id: str  # short and stable, e.g. pickle-unsafe-global
    severity: str  # one of SEVERITIES
    unsafe: bool  # a callable that runs when the file is loaded
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "unsafe": self.unsafe,
            "message": self.message,
        }


def finding(id: str, severity: str, message: str, *, unsafe: bool = False) -> ScanFinding:
    return ScanFinding(id, severity, unsafe, message[:MAX_MESSAGE])


@dataclass(frozen=True)
class FileScan:
    path: str  # relative POSIX path inside the model
    format: str
    findings: tuple[ScanFinding, ...]
    # The plaintext digests model.sig signs for this file, hex, one per hashed range (one for
    # per-file hashing, one per shard, none for an empty file in shards); None outside a seal.
    digests: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "path": self.path,
            "format": self.format,
            "findings": [f.to_json() for f in self.findings],
        }
        if self.digests is not None:
            document["digests"] = list(self.digests)
        return document


@dataclass(frozen=True)
class ModelScan:
    scanner: str
    scanner_version: str
    rules: str  # version of sealgate's own checks (formats picklescan does not read)
    files: tuple[FileScan, ...]

    @property
    def findings(self) -> list[tuple[str, ScanFinding]]:
        return [(f.path, item) for f in self.files for item in f.findings]

    @property
    def unsafe(self) -> bool:
        return any(item.unsafe for _, item in self.findings)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for _, item in self.findings:
            counts[item.severity] += 1
        return counts

    def bind(self, digests: dict[str, tuple[str, ...]]) -> ModelScan:
        """The scan with the digests of each file as the seal signed them."""
        return replace(self, files=tuple(replace(f, digests=digests[f.path]) for f in self.files))

    def to_json(self) -> dict[str, Any]:
        return {
            "scanner": {"name": self.scanner, "version": self.scanner_version},
            "rules": self.rules,
            "files": [f.to_json() for f in self.files],
        }


def _fields(value: Any, keys: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise ScanFormatError(f"{where} does not have the expected fields")
    return value


def _str(value: Any, where: str, limit: int = 4096) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ScanFormatError(f"{where} is not a string of at most {limit} characters")
    return value


def _parse_finding(raw: Any, where: str) -> ScanFinding:
    entry = _fields(raw, {"id", "severity", "unsafe", "message"}, where)
    if not isinstance(entry["id"], str) or not _ID.fullmatch(entry["id"]):
        raise ScanFormatError(f"{where}.id is not a short finding id")
    if entry["severity"] not in SEVERITIES:
        raise ScanFormatError(f"{where}.severity is not one of {', '.join(SEVERITIES)}")
    if not isinstance(entry["unsafe"], bool):
        raise ScanFormatError(f"{where}.unsafe is not a boolean")
    return ScanFinding(
        entry["id"],
        entry["severity"],
        entry["unsafe"],
        _str(entry["message"], f"{where}.message", MAX_MESSAGE),
    )


def _parse_file(raw: Any, where: str) -> FileScan:
    entry = _fields(raw, {"path", "format", "findings", "digests"}, where)
    digests = entry["digests"]
    if not isinstance(digests, list) or not all(
        isinstance(d, str) and _HEX64.fullmatch(d) for d in digests
    ):
        raise ScanFormatError(f"{where}.digests is not a list of lowercase hex 256-bit digests")
    findings = entry["findings"]
    if not isinstance(findings, list) or len(findings) > MAX_FINDINGS_PER_FILE:
        raise ScanFormatError(f"{where}.findings is not a list of at most {MAX_FINDINGS_PER_FILE}")
    return FileScan(
        path=_str(entry["path"], f"{where}.path"),
        format=_str(entry["format"], f"{where}.format", 32),
        findings=tuple(_parse_finding(f, f"{where}.findings[{i}]") for i, f in enumerate(findings)),
        digests=tuple(digests),
    )


def parse_model_scan(raw: Any, paths: list[str]) -> ModelScan:
    """Parse a signed scan; it must cover exactly ``paths`` (the sealed files), in order."""
    top = _fields(raw, {"scanner", "rules", "files"}, "scan")
    scanner = _fields(top["scanner"], {"name", "version"}, "scan.scanner")
    files = top["files"]
    if not isinstance(files, list):
        raise ScanFormatError("scan.files is not a list")
    parsed = tuple(_parse_file(f, f"scan.files[{i}]") for i, f in enumerate(files))
    if [f.path for f in parsed] != paths:
        raise ScanFormatError("scan does not cover exactly the sealed files")
    return ModelScan(
        scanner=_str(scanner["name"], "scan.scanner.name", 64),
        scanner_version=_str(scanner["version"], "scan.scanner.version", 64),
        rules=_str(top["rules"], "scan.rules", 64),
        files=parsed,
    )


def scan_facts(scan: ModelScan | None) -> dict[str, Any]:
    """The scan as promotion facts (``input.model.scan``): ``present`` false for a seal made
    before scanning."""
    if scan is None:
        return {"present": False, "files": [], "counts": dict.fromkeys(SEVERITIES, 0)}
    return {
        "present": True,
        "scanner": {"name": scan.scanner, "version": scan.scanner_version},
        "rules": scan.rules,
        "counts": scan.counts(),
        "unsafe": scan.unsafe,
        "files": [
            {
                "path": f.path,
                "format": f.format,
                "findings": [item.to_json() for item in f.findings],
            }
            for f in scan.files
        ],
    }
