"""YAML and JSON documents with the source line of every field, safe against hostile files.

PyYAML composes a node graph (with libyaml when available) in which an alias is a shared
reference, so composing a "billion laughs" document is cheap; the expansion happens only when
the graph is turned into plain values, which is where the budgets below apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sealgate._paths import read_bounded
from sealgate.errors import InputError
from sealgate.inputs._model import FieldPath

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_VALUES = 500_000
MAX_DEPTH = 200

# PyYAML's own resolvers for the YAML 1.1 core types; everything else (timestamps, binary,
# custom tags) stays the string that was written, so every value is JSON-compatible.
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALAR_CONSTRUCTORS = {
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
}


@dataclass(frozen=True)
class StructuredDocument:
    """One YAML document (or a JSON file) as plain values and a field-path -> line map."""

    value: Any
    lines: dict[FieldPath, int]
    line: int


def read_text(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file, refusing oversized, binary and undecodable content."""
    raw = read_bounded(path, max_bytes, "input")
    if b"\x00" in raw:
        raise InputError(f"{path}: binary content, not a text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 (byte {exc.start})") from exc


def load_structured_documents(path: Path, *, text: str | None = None) -> list[StructuredDocument]:
    """Parse every document of a YAML (or JSON) file; raise InputError on anything unsafe."""
    source = read_text(path) if text is None else text
    try:
        nodes = list(yaml.compose_all(source, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"{path}{where}: {problem}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {exc}") from exc
    budget = _Budget(path)
    documents = []
    for node in nodes:
        if node is None:
            continue
        lines: dict[FieldPath, int] = {}
        value = _to_value(node, (), lines, budget, 0)
        documents.append(StructuredDocument(value, lines, node.start_mark.line + 1))
    return documents


class _Budget:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.remaining = MAX_VALUES

    def spend(self) -> None:
        self.remaining -= 1
        if self.remaining < 0:
            raise InputError(
                f"{self.path}: more than {MAX_VALUES} values after alias expansion "
                "(a YAML bomb or a file far larger than any manifest)"
            )


def _to_value(
    node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int], budget: _Budget, depth: int
) -> Any:
    budget.spend()
    if depth > MAX_DEPTH:
        raise InputError(
            f"{budget.path}:{node.start_mark.line + 1}: nesting deeper than {MAX_DEPTH}"
        )
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise InputError(
                    f"{budget.path}:{key_node.start_mark.line + 1}: YAML merge keys (<<) are not supported"
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(
                    f"{budget.path}:{key_node.start_mark.line + 1}: mapping keys must be scalars"
                )
            key = str(key_node.value)
            if key in result:
                raise InputError(
                    f"{budget.path}:{key_node.start_mark.line + 1}: duplicate key {key!r}"
                )
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            result[key] = _to_value(value_node, child, lines, budget, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_value(item, (*path, index), lines, budget, depth + 1)
            for index, item in enumerate(node.value)
        ]
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, budget)
    # The composer builds only the three node kinds above; anything else is refused, not guessed.
    raise InputError(f"{budget.path}:{node.start_mark.line + 1}: unsupported YAML node")


def _scalar(node: yaml.ScalarNode, budget: _Budget) -> Any:
    construct = _SCALAR_CONSTRUCTORS.get(node.tag)
    if construct is not None:
        try:
            return construct(node)
        except (yaml.YAMLError, ValueError) as exc:
            raise InputError(
                f"{budget.path}:{node.start_mark.line + 1}: invalid scalar {node.value!r}"
            ) from exc
    return node.value
