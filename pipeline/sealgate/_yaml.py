"""The one YAML loader for files that security decisions read (trust, approvers, configs).

PyYAML's ``safe_load`` keeps the last of two equal keys, so ``revoked: true`` followed by
``revoked: false`` reads as not revoked. This loader refuses a duplicate key (and merge
keys, which override silently too) with the file and line, before any value is used.

PyYAML's pure-Python loader recurses per level of nesting and shares an alias's value, so
the text first goes through libyaml's iterative event parser under ``sealgate._limits``
(depth, value budget, alias expansion): a hostile file fails there, before the loader runs.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

from sealgate._limits import active_limits, bounded_events
from sealgate.errors import InputError

_EventLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose mappings refuse duplicate and merge (``<<``) keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConstructorError(
                    None, None, "YAML merge keys (<<) are not accepted", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise ConstructorError(
                    None, None, "a mapping key must be a scalar", key_node.start_mark
                ) from None
            if duplicate:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(data: str | bytes, source: str) -> Any:
    """One YAML document with unique keys; any problem is an ``InputError`` naming file:line."""
    try:
        for _ in bounded_events(yaml.parse(data, Loader=_EventLoader), source, active_limits()):
            pass
        return yaml.load(data, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "malformed"
        if not isinstance(exc, ConstructorError):
            problem = f"not valid YAML: {problem}"
        raise InputError(f"{source}{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {exc}") from None
