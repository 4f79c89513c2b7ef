"""METADATA annotations (OPA's format) read from Rego source, with the line they annotate.

An annotation is a comment block whose first line is ``# METADATA``; the YAML in the rest of
the block applies to the next statement: the ``package`` (package scope) or a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from sealgate.errors import PolicyLoadError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RULE_HEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\b")
_PACKAGE = re.compile(r"^package\s+([A-Za-z_][A-Za-z0-9_.]*)")


@dataclass(frozen=True)
class Annotation:
    """One METADATA block and what it annotates."""

    scope: str  # "package" or "rule"
    name: str  # package path or rule name
    line: int  # 1-based line of the annotated statement
    values: dict[str, Any]

    @property
    def custom(self) -> dict[str, Any]:
        custom = self.values.get("custom") or {}
        return custom if isinstance(custom, dict) else {}


def parse_annotations(source: str, file: str) -> list[Annotation]:
    """Every METADATA block in ``source``; malformed YAML is a load error naming the line."""
    lines = source.splitlines()
    annotations: list[Annotation] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "# METADATA":
            index += 1
            continue
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].lstrip().startswith("#"):
            text = lines[index].lstrip()[1:]
            body.append(text[1:] if text.startswith(" ") else text)
            index += 1
        try:
            values = yaml.load("\n".join(body), Loader=_LOADER) or {}  # noqa: S506 (a safe loader)
        except yaml.YAMLError as exc:
            raise PolicyLoadError(f"{file}:{start + 1}: METADATA is not valid YAML: {exc}") from exc
        if not isinstance(values, dict):
            raise PolicyLoadError(f"{file}:{start + 1}: METADATA must be a YAML mapping")
        while index < len(lines) and not lines[index].strip():
            index += 1
        if index >= len(lines):
            raise PolicyLoadError(f"{file}:{start + 1}: METADATA annotates nothing")
        statement = lines[index].strip()
        package = _PACKAGE.match(statement)
        if package:
            annotations.append(Annotation("package", package.group(1), index + 1, values))
            continue
        rule = _RULE_HEAD.match(statement)
        if not rule:
            raise PolicyLoadError(f"{file}:{index + 1}: METADATA must precede a package or a rule")
        annotations.append(Annotation("rule", rule.group(1), index + 1, values))
    return annotations
