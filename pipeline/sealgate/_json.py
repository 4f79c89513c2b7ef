"""JSON for files that security decisions read: a duplicate key is an error, not "last wins".

The text is pre-scanned for nesting depth before ``json.loads`` (which recurses), and values
the policy engines cannot keep (NaN, infinities, integers beyond 64 bits, lone surrogates)
are refused, so a hostile file ends as one ``ValueError`` rather than a RecursionError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sealgate._limits import (
    INT_MAX,
    LimitExceeded,
    active_limits,
    check_json_text,
    check_number,
    has_lone_surrogate,
    may_hold_surrogate,
)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def loads_unique(data: str | bytes, *, source: object = None) -> Any:
    """``json.loads`` that raises ``ValueError`` on a duplicate key in any object, and
    ``LimitExceeded`` (a ``ValueError`` and an ``InputError``) on input beyond the limits.

    ``source`` (a file name) prefixes the limit messages, else they start ``line N``.
    """
    text = data.decode(json.detect_encoding(data)) if isinstance(data, bytes) else data
    check_json_text(text, source, active_limits())

    def number(literal: str, convert: type[int] | type[float]) -> int | float:
        # A literal of more digits than any 64-bit integer is refused before int() reads it.
        value = convert(literal) if len(literal) <= 24 or convert is float else INT_MAX + 1
        check_number(value, source, _line_of(text, literal), literal=literal)
        return value

    def constant(name: str) -> Any:
        check_number(float(name), source, _line_of(text, name), literal=name)

    value = json.loads(
        text,
        object_pairs_hook=_unique_object,
        parse_int=lambda s: number(s, int),
        parse_float=lambda s: number(s, float),
        parse_constant=constant,
    )
    if may_hold_surrogate(text):
        _refuse_lone_surrogates(value, text, source)
    return value


def _line_of(text: str, literal: str) -> int | None:
    match = re.search(rf"(?<![\w.\"]){re.escape(literal)}(?![\w.])", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _refuse_lone_surrogates(value: Any, text: str, source: object) -> None:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and has_lone_surrogate(item):
            match = re.search(r"\\u[dD][89a-fA-F]", text)
            line = text.count("\n", 0, match.start()) + 1 if match else None
            where = f"{source}:{line}" if source is not None else f"line {line}"
            raise LimitExceeded(
                f"{where}: a string holds a lone UTF-16 surrogate, which is not text"
            )
