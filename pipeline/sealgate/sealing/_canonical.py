"""Canonical JSON: the exact bytes that sealgate signs.

Keys sorted, no insignificant whitespace, UTF-8, integers only (no floats, whose text form is
not canonical). For the values sealgate signs (ASCII keys, strings, integers, booleans) this
matches RFC 8785.
"""

from __future__ import annotations

import json
from typing import TypeAlias

JSONValue: TypeAlias = "bool | int | str | list[JSONValue] | dict[str, JSONValue] | None"


def _check(value: object, where: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON: non-string key at {where}")
            _check(item, f"{where}.{key}")
        return
    raise TypeError(f"canonical JSON: unsupported {type(value).__name__} at {where}")


def canonical_json(value: JSONValue) -> bytes:
    """Serialize ``value`` to its canonical byte form."""
    _check(value, "$")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
