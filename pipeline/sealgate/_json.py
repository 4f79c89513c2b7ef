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
    has_lone_surrogate,
    located,
    may_hold_surrogate,
    number_problem,
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

    def refuse(literal: str, value: Any) -> None:
        problem = number_problem(value, literal)
        if problem is not None:  # only now is the line worth finding
            raise LimitExceeded(f"{located(source, _line_of(text, literal))}: {problem}")

    def integer(literal: str) -> int:
        # More digits than any 64-bit integer: refused before int() reads them.
        value = int(literal) if len(literal) <= 20 else INT_MAX + 1
        refuse(literal, value)
        return value

    def real(literal: str) -> float:
        value = float(literal)
        refuse(literal, value)
        return value

    def constant(name: str) -> Any:
        refuse(name, float(name))

    # The number hooks cost a Python call per number: only a text that could hold a number
    # beyond the range (19+ digits, a 3-digit exponent) pays for them.
    suspect = _SUSPECT_NUMBER.search(text) is not None
    value = json.loads(
        text,
        object_pairs_hook=_unique_object,
        parse_int=integer if suspect else None,
        parse_float=real if suspect else None,
        parse_constant=constant,
    )
    if may_hold_surrogate(text):
        _refuse_lone_surrogates(value, text, source)
    return value


_SUSPECT_NUMBER = re.compile(r"\d{19}|[eE][-+]?\d{3}")


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
            raise LimitExceeded(
                f"{located(source, line)}: a string holds a lone UTF-16 surrogate, which is not text"
            )
