"""JSON for files that security decisions read: a duplicate key is an error, not "last wins"."""

from __future__ import annotations

import json
from typing import Any


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def loads_unique(data: str | bytes) -> Any:
    """``json.loads`` that raises ``ValueError`` on a duplicate key in any object."""
    return json.loads(data, object_pairs_hook=_unique_object)
