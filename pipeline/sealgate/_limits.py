"""The limits on structured input (YAML, JSON), enforced while parsing, before the work.

Each limit is checked as the parser goes, so that a hostile file costs at most what the limit
allows: nesting depth is checked on each opening bracket or collection event (libyaml's event
parser is iterative, its composer and Python's ``json`` are recursive), the value budget stops
the parse at the value that exceeds it, and an alias is charged the full size of the value it
repeats before anything is copied.

The policy engines keep a JSON input of at most 127 levels (regorus refuses 128) and integers
of the signed 64-bit range exactly; the defaults leave room for the levels the gate wraps
around a document.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from itertools import accumulate
from typing import Any

import yaml

from sealgate.errors import InputError

# The deepest document the engines still accept once the gate has wrapped it in its envelope.
DEPTH_CEILING = 100
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


@dataclass(frozen=True)
class ParseLimits:
    """The configurable limits (``limits.<name>`` in ``.sealgate.yaml``)."""

    max_file_bytes: int = 8 * 1024 * 1024
    max_depth: int = 64
    max_values: int = 500_000
    # Scalar text after alias expansion; without aliases it cannot exceed the file size.
    max_expanded_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str) -> ParseLimits:
        """Defaults overridden by ``values``; ``where`` ("file:line: limits") starts each error."""
        if not isinstance(values, Mapping):
            raise InputError(f"{where} is a mapping of {', '.join(LIMIT_NAMES)}")
        limits = cls()
        for name, value in values.items():
            if name not in LIMIT_NAMES:
                raise InputError(
                    f"{where}: unknown limit {name!r} (known: {', '.join(LIMIT_NAMES)})"
                )
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{where}.{name} expects a positive integer")
            if name == "max_depth" and value > DEPTH_CEILING:
                raise InputError(
                    f"{where}.max_depth is at most {DEPTH_CEILING} "
                    "(the policy engines refuse inputs nested 128 levels deep)"
                )
            limits = replace(limits, **{name: value})
        return limits

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in LIMIT_NAMES}


LIMIT_NAMES = tuple(f.name for f in fields(ParseLimits))
DEFAULT_LIMITS = ParseLimits()
_active = [DEFAULT_LIMITS]


def active_limits() -> ParseLimits:
    """The limits of the current run (forked gate workers inherit them)."""
    return _active[-1]


@contextmanager
def using_limits(limits: ParseLimits) -> Iterator[ParseLimits]:
    """Apply ``limits`` to every parse inside the block."""
    _active.append(limits)
    try:
        yield limits
    finally:
        _active.pop()


class LimitExceeded(InputError, ValueError):
    """An input beyond a limit: an InputError (exit 2) that ``except ValueError`` also catches,
    as JSON callers do to name their file."""


def located(source: object, line: int | None) -> str:
    """``file:line``, ``file``, or ``line N`` when there is no file name."""
    if source is None:
        return f"line {line}" if line else "input"
    return f"{source}:{line}" if line else str(source)


def too_deep(source: object, line: int | None, limits: ParseLimits) -> LimitExceeded:
    return LimitExceeded(
        f"{located(source, line)}: nesting deeper than {limits.max_depth} levels (limits.max_depth)"
    )


def too_many_values(source: object, line: int | None, limits: ParseLimits) -> LimitExceeded:
    return LimitExceeded(
        f"{located(source, line)}: more than {limits.max_values} values after alias expansion "
        "(limits.max_values)"
    )


def too_much_text(source: object, line: int | None, limits: ParseLimits) -> LimitExceeded:
    return LimitExceeded(
        f"{located(source, line)}: more than {limits.max_expanded_bytes} bytes of scalar text "
        "after alias expansion (limits.max_expanded_bytes)"
    )


def number_problem(value: Any, literal: str = "") -> str | None:
    """Why the policy engines would not keep ``value`` exactly (or at all); None if they do."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        shown = _short(literal or str(value))
        return f"integer {shown} is outside the signed 64-bit range the policy engines keep exactly"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{literal or repr(value)} is not a number the policy engines accept"
    return None


def check_number(value: Any, source: object, line: int | None, *, literal: str = "") -> None:
    """Refuse a number the policy engines would not keep exactly (or at all)."""
    problem = number_problem(value, literal)
    if problem is not None:
        raise LimitExceeded(f"{located(source, line)}: {problem}")


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} digits)"


# --- YAML -------------------------------------------------------------------------------

_COLLECTION_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_COLLECTION_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


class _Open:
    """An open collection: the totals when it started, and the height below it so far."""

    __slots__ = ("anchor", "bytes", "height", "values")

    def __init__(self, anchor: str | None, values: int, text_bytes: int) -> None:
        self.anchor = anchor
        self.values = values
        self.bytes = text_bytes
        self.height = 1


def event_line(event: yaml.Event) -> int:
    """The 1-based line where ``event`` starts (0 if the parser gave no mark)."""
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def bounded_events(
    events: Iterable[yaml.Event], source: object, limits: ParseLimits
) -> Iterator[yaml.Event]:
    """Pass YAML parse events through, raising InputError as soon as a limit is exceeded.

    An alias is charged the values, text and height of its anchor's whole subtree; an alias
    to an anchor that is still open (a recursive structure) is refused.
    """
    stack: list[_Open] = []
    # anchor -> (values, scalar bytes, height) of the finished subtree it names
    anchors: dict[str, tuple[int, int, int]] = {}
    values = text_bytes = 0
    for event in events:
        if isinstance(event, yaml.ScalarEvent):
            values += 1
            size = len(event.value)
            text_bytes += size
            if event.anchor is not None:
                anchors[event.anchor] = (1, size, 0)
            height = 0
        elif isinstance(event, _COLLECTION_START):
            values += 1
            if len(stack) >= limits.max_depth:
                raise too_deep(source, event_line(event), limits)
            stack.append(_Open(event.anchor, values - 1, text_bytes))
            height = -1
        elif isinstance(event, _COLLECTION_END):
            done = stack.pop()
            if done.anchor is not None:
                anchors[done.anchor] = (values - done.values, text_bytes - done.bytes, done.height)
            height = done.height
        elif isinstance(event, yaml.AliasEvent):
            repeated = anchors.get(event.anchor)  # type: ignore[arg-type]
            line = event_line(event)
            if repeated is None:
                if any(frame.anchor == event.anchor for frame in stack):
                    raise InputError(f"{source}:{line}: recursive alias *{event.anchor}")
                raise InputError(f"{source}:{line}: alias *{event.anchor} names no anchor")
            values += repeated[0]
            text_bytes += repeated[1]
            height = repeated[2]
            if len(stack) + height > limits.max_depth:
                raise too_deep(source, line, limits)
        else:
            if isinstance(event, yaml.DocumentStartEvent):
                anchors.clear()
            yield event
            continue
        if height >= 0 and stack and stack[-1].height < height + 1:
            stack[-1].height = height + 1
        if values > limits.max_values:
            raise too_many_values(source, event_line(event), limits)
        if text_bytes > limits.max_expanded_bytes:
            raise too_much_text(source, event_line(event), limits)
        yield event


# --- JSON -------------------------------------------------------------------------------

# A JSON string (an unterminated one runs to the end), or one bracket.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def check_json_text(text: str, source: object, limits: ParseLimits) -> None:
    """Linear, string-aware pre-scan of a JSON text's nesting depth before ``json.loads``
    (which recurses). Size is the caller's: each reads its file with its own bound."""
    # Strings out, then only the brackets; their running sum is the depth (all in C loops).
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if brackets and max(accumulate(array("b", brackets.encode().translate(_STEPS)))) > (
        limits.max_depth
    ):
        raise too_deep(source, _line_beyond(text, limits.max_depth), limits)


def _line_beyond(text: str, max_depth: int) -> int | None:
    """The line of the first bracket nested deeper than ``max_depth`` (the slow, exact scan)."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        char = match.group()[0]
        if char in "[{":
            depth += 1
            if depth > max_depth:
                return text.count("\n", 0, match.start()) + 1
        elif char in "]}":
            depth -= 1
    return None


def may_hold_surrogate(text: str) -> bool:
    """Whether a JSON text escapes a UTF-16 surrogate (worth a walk to find lone ones)."""
    return _ESCAPED_SURROGATE.search(text) is not None


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
