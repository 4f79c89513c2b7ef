"""YAML and JSON documents with the source line of every field, safe against hostile files.

The values are built from libyaml's event stream (its parser is iterative; its composer and
PyYAML's constructor recurse), through ``sealgate._limits.bounded_events``, which stops the
parse at the first event beyond a limit: nesting depth, the value budget, and the size an alias
repeats, all charged before the value is built or an alias copied.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sealgate._limits import (
    INT_MAX,
    ParseLimits,
    active_limits,
    bounded_events,
    check_number,
    event_line,
)
from sealgate._paths import display_path, read_bounded
from sealgate.errors import InputError
from sealgate.inputs._model import FieldPath

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# PyYAML's own resolvers for the YAML 1.1 core types; everything else (timestamps, binary,
# custom tags) stays the string that was written, so every value is JSON-compatible.
_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"
_INT_LITERAL_CHARS = 96  # 0b and 64 binary digits, with room for "_" separators
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALAR_CONSTRUCTORS = {
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    _INT: _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
}
_MERGE = "tag:yaml.org,2002:merge"
# Decimal without a leading zero (YAML 1.1 reads "010" as octal) or "_" separators.
_PLAIN_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,19})")


@functools.lru_cache(maxsize=4096)
def _resolve(value: str, plain: bool, quoted: bool) -> str:
    """The implicit tag of a scalar; manifests repeat the same few values (true, 1, v1...)."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, value, (plain, quoted)))  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class StructuredDocument:
    """One YAML document (or a JSON file) as plain values and a field-path -> line map."""

    value: Any
    lines: dict[FieldPath, int]
    line: int


def read_text(path: Path, *, max_bytes: int | None = None) -> str:
    """Read a UTF-8 text file, refusing oversized, binary and undecodable content."""
    limit = active_limits().max_file_bytes if max_bytes is None else max_bytes
    try:
        raw = read_bounded(path, limit, "input")
    except InputError as exc:
        if max_bytes is None and str(exc).endswith("-byte limit"):
            raise InputError(f"{exc} (limits.max_file_bytes)") from None
        raise
    if b"\x00" in raw:
        raise InputError(f"{path}: binary content, not a text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 (byte {exc.start})") from exc


def load_structured_documents(path: Path, *, text: str | None = None) -> list[StructuredDocument]:
    """Parse every document of a YAML (or JSON) file; raise InputError on anything unsafe."""
    source = read_text(path) if text is None else text
    shown = display_path(path)  # repository-relative, as in the reports
    builder = _Builder(shown, active_limits())
    try:
        for event in bounded_events(yaml.parse(source, Loader=_Loader), shown, builder.limits):
            builder.add(event)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"{shown}{where}: {problem}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{shown}: invalid YAML: {exc}") from exc
    return builder.documents


_EXPECT_KEY = object()  # a mapping frame between two entries


class _Frame:
    """A collection being built: where it sits, and (for a mapping) the key awaiting a value."""

    __slots__ = ("anchor", "container", "key", "path")

    def __init__(self, container: Any, path: FieldPath, anchor: str | None) -> None:
        self.container = container
        self.path = path
        self.anchor = anchor
        self.key: Any = _EXPECT_KEY


class _Builder:
    """Plain values and line maps from a stream of (already bounded) YAML events."""

    def __init__(self, path: str, limits: ParseLimits) -> None:
        self.path = path
        self.limits = limits
        self.documents: list[StructuredDocument] = []
        self._start_document()

    def _start_document(self) -> None:
        self.lines: dict[FieldPath, int] = {}
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.line = 0
        # anchor -> (value, the raw text when it is a scalar: usable as a key)
        self.anchors: dict[str, tuple[Any, str | None]] = {}

    def add(self, event: yaml.Event) -> None:
        line = event_line(event)
        if isinstance(event, yaml.ScalarEvent):
            if self._expects_key():
                self._key(event.value, line, merge=self._tag(event) == _MERGE)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (self._scalar(event, line), event.value)
                return
            value = self._scalar(event, line)
            self._place(value, line)
            if event.anchor is not None:
                self.anchors[event.anchor] = (value, event.value)
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            if self._expects_key():
                raise InputError(f"{self.path}:{line}: mapping keys must be scalars")
            container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
            self.stack.append(_Frame(container, self._place(container, line), event.anchor))
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            done = self.stack.pop()
            if done.anchor is not None:
                self.anchors[done.anchor] = (done.container, None)
        elif isinstance(event, yaml.AliasEvent):
            # bounded_events has refused unknown and recursive aliases and charged this one
            value, raw = self.anchors[str(event.anchor)]
            if self._expects_key():
                if raw is None:
                    raise InputError(f"{self.path}:{line}: mapping keys must be scalars")
                self._key(raw, line, merge=False)
                return
            # A copy (values are JSON types: a round trip is the fast deep copy); fields inside
            # it are located at the alias, their nearest ancestor with a line.
            self._place(
                json.loads(json.dumps(value)) if isinstance(value, dict | list) else value, line
            )
        elif isinstance(event, yaml.DocumentStartEvent):
            self._start_document()
        elif isinstance(event, yaml.DocumentEndEvent):
            self.documents.append(StructuredDocument(self.root, self.lines, self.line))

    def _expects_key(self) -> bool:
        if not self.stack:
            return False
        frame = self.stack[-1]
        return frame.key is _EXPECT_KEY and isinstance(frame.container, dict)

    def _key(self, key: str, line: int, *, merge: bool) -> None:
        frame = self.stack[-1]
        if merge:
            raise InputError(f"{self.path}:{line}: YAML merge keys (<<) are not supported")
        if key in frame.container:
            raise InputError(f"{self.path}:{line}: duplicate key {key!r}")
        frame.key = key
        self.lines[(*frame.path, key)] = line

    def _place(self, value: Any, line: int) -> FieldPath:
        """Put ``value`` where the stream is (mapping value, list item or root); its path."""
        path: FieldPath
        if not self.stack:
            self.root, self.line, path = value, line, ()
        else:
            frame = self.stack[-1]
            if isinstance(frame.container, dict):
                path = (*frame.path, frame.key)
                frame.container[frame.key] = value
                frame.key = _EXPECT_KEY
            else:
                path = (*frame.path, len(frame.container))
                frame.container.append(value)
        self.lines.setdefault(path, line)
        return path

    @staticmethod
    def _tag(event: yaml.ScalarEvent) -> str:
        if event.tag is None or event.tag == "!":
            return _resolve(event.value, *event.implicit)
        return str(event.tag)

    def _scalar(self, event: yaml.ScalarEvent, line: int) -> Any:
        tag = self._tag(event)
        if tag == _NULL:
            return None
        construct = _SCALAR_CONSTRUCTORS.get(tag)
        if construct is None:
            return event.value
        if tag == _INT and _PLAIN_DECIMAL.fullmatch(event.value):
            value: Any = int(event.value)  # the common case, without PyYAML's general reader
            check_number(value, self.path, line, literal=event.value)
            return value
        if tag == _INT and len(event.value) > _INT_LITERAL_CHARS:
            # More characters than any 64-bit integer in any YAML notation: refused unread.
            check_number(INT_MAX + 1, self.path, line, literal=event.value)
        try:
            value = construct(yaml.ScalarNode(tag, event.value))
        except (yaml.YAMLError, ValueError) as exc:
            shown = repr(event.value) if len(event.value) <= 40 else f"{event.value[:40]!r}..."
            raise InputError(f"{self.path}:{line}: invalid scalar {shown}") from exc
        check_number(value, self.path, line, literal=event.value)
        return value
