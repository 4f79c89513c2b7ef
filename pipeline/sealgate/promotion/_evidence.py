"""Evidence: evaluation metrics, scan results and SBOMs, each bound to a model digest.

Every evidence file is a JSON object with ``kind`` (metrics | scan | sbom) and ``digest``
(the sealed model digest it was produced for); its shape is checked with JSON Schema.
Checking never raises on a bad document: it returns facts for the policy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from sealgate._paths import display_path, read_bounded

MAX_EVIDENCE_BYTES = 16 * 1024 * 1024
_DIGEST = {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}
_COMMON = {"digest": _DIGEST, "produced_by": {"type": "string"}, "created": {"type": "string"}}
SCHEMAS: dict[str, dict[str, Any]] = {
    "metrics": {
        "type": "object",
        "required": ["kind", "digest", "metrics"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "kind": {"const": "metrics"},
            "dataset": {"type": "string"},
            "metrics": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "number"},
            },
        },
    },
    "scan": {
        "type": "object",
        "required": ["kind", "digest", "scanner", "findings"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "kind": {"const": "scan"},
            "scanner": {"type": "string", "minLength": 1},
            "findings": {
                "type": "object",
                "required": ["critical", "high", "medium", "low"],
                "additionalProperties": False,
                "properties": {
                    level: {"type": "integer", "minimum": 0}
                    for level in ("critical", "high", "medium", "low")
                },
            },
        },
    },
    "sbom": {
        "type": "object",
        "required": ["kind", "digest", "format", "components"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "kind": {"const": "sbom"},
            "format": {"enum": ["spdx", "cyclonedx"]},
            "components": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "version"],
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
                },
            },
        },
    },
}
_VALIDATORS = {kind: Draft202012Validator(schema) for kind, schema in SCHEMAS.items()}


def _shape_errors(document: Any) -> list[str]:
    if not isinstance(document, dict):
        return ["not a JSON object"]
    kind = document.get("kind")
    validator = _VALIDATORS.get(kind) if isinstance(kind, str) else None
    if validator is None:
        return [f"kind must be one of {', '.join(SCHEMAS)}"]
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def evidence_facts(path: Path, digest: str) -> dict[str, Any]:
    """Shape, digest binding and the content the policy reads (metrics, findings)."""
    facts: dict[str, Any] = {
        "file": display_path(path),
        "kind": None,
        "digest": None,
        "bound": False,
        "valid": False,
        "errors": [],
    }
    try:
        document = json.loads(read_bounded(path, MAX_EVIDENCE_BYTES, "evidence"))
    except (UnicodeDecodeError, ValueError):
        facts["errors"] = ["not JSON"]
        return facts
    errors = _shape_errors(document)
    if isinstance(document, dict):
        kind, bound_to = document.get("kind"), document.get("digest")
        facts["kind"] = kind if isinstance(kind, str) else None
        facts["digest"] = bound_to if isinstance(bound_to, str) else None
        facts["bound"] = bound_to == digest
    facts["errors"] = errors
    facts["valid"] = not errors
    if not errors:
        if document["kind"] == "metrics":
            facts["metrics"] = document["metrics"]
        elif document["kind"] == "scan":
            facts["findings"] = document["findings"]
        else:
            facts["components"] = len(document["components"])
    return facts
