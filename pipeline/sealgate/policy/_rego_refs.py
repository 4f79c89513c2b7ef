"""Every reference to ``data`` in a Rego module, found in the engine's syntax tree.

A reference is found however it is spelled (``data.x.y``, ``data["x"]["y"]``, an import, a
``with`` target, a function call through ``data``): the tree walk visits every node, so no
spelling can slip past. Each reference keeps the byte span of every prefix of its path, so a
rewrite replaces exactly the prefix it maps and leaves the rest of the source as written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sealgate.errors import PolicyLoadError
from sealgate.policy._embedded import new_regorus_engine

DATA = "data"


@dataclass(frozen=True)
class DataRef:
    """``data`` followed by ``path``; ``None`` is a segment computed at run time."""

    path: tuple[str | None, ...]
    start: int  # byte offset of ``data``
    ends: tuple[int, ...]  # ends[k]: byte offset just past the first k+1 path segments
    line: int

    def prefix_end(self, length: int) -> int:
        """End of ``data`` plus the first ``length`` segments."""
        return self.start + len(DATA) if length == 0 else self.ends[length - 1]


@dataclass(frozen=True)
class ParsedModule:
    file: str
    source: str
    package: tuple[str, ...]
    package_span: tuple[int, int]  # byte span of the package path after ``package``
    refs: tuple[DataRef, ...]
    # Byte spans of ``import rego.v1`` / ``import future.keywords...`` (not data imports).
    keyword_imports: tuple[tuple[int, int], ...] = ()
    # Where a reference must stay a data path: imports and ``with`` targets.
    import_spans: tuple[tuple[int, int], ...] = ()

    def in_import(self, ref: DataRef) -> bool:
        return any(start <= ref.start < end for start, end in self.import_spans)


def parse_module(file: str, source: str) -> ParsedModule:
    """The package and the data references of one Rego v1 module (a load error if invalid)."""
    engine = new_regorus_engine()
    engine.set_rego_v0(False)
    try:
        engine.add_policy(file, source)
        (module,) = json.loads(engine.get_ast_as_json())
    except Exception as exc:  # regorus raises plain RuntimeError/ValueError
        raise PolicyLoadError(f"{file}: cannot parse: {' '.join(str(exc).split())[:200]}") from exc
    tree = module["ast"]
    package = tree["package"]["refr"]
    chain = _chain(package)
    if "Var" in package:
        names: list[str | None] = [str(package["Var"]["value"])]
    elif chain is not None and chain[0] is None:
        names = chain[1]
    else:
        raise PolicyLoadError(f"{file}: package path is not a plain name")
    start = _span(package)["start"]
    refs: list[DataRef] = []
    for key, value in tree.items():
        if key != "package":
            _walk(value, refs.append)
    keyword_imports = tuple(
        (int(item["span"]["start"]), int(item["span"]["end"]))
        for item in tree.get("imports", [])
        if _import_root(item["refr"]) in {"rego", "future"}
    )
    return ParsedModule(
        keyword_imports=keyword_imports,
        import_spans=tuple(
            (int(item["span"]["start"]), int(item["span"]["end"]))
            for item in tree.get("imports", [])
        )
        + tuple(_with_target_spans(tree.get("rules", []))),
        file=file,
        source=source,
        package=tuple(str(n) for n in names),
        package_span=(start, _span(package)["end"]),
        refs=tuple(refs),
    )


def splice(source: str, replacements: list[tuple[int, int, str]]) -> str:
    """``source`` with each byte span ``[start, end)`` replaced (spans must not overlap)."""
    data = source.encode("utf-8")
    out: list[bytes] = []
    position = 0
    for start, end, text in sorted(replacements):
        if start < position:
            raise PolicyLoadError("overlapping rewrites of one reference")
        out += [data[position:start], text.encode("utf-8")]
        position = end
    out.append(data[position:])
    return b"".join(out).decode("utf-8")


def _with_target_spans(node: Any) -> Iterator[tuple[int, int]]:
    """The byte span of every ``with`` target (a path, never an alias)."""
    if isinstance(node, list):
        for item in node:
            yield from _with_target_spans(item)
    elif isinstance(node, dict):
        for modifier in node.get("with_mods") or []:
            span = _span(modifier["refr"])
            yield int(span["start"]), int(span["end"])
        for value in node.values():
            yield from _with_target_spans(value)


def _import_root(node: dict[str, Any]) -> str | None:
    current: Any = node
    while isinstance(current, dict):
        if "Var" in current:
            return str(current["Var"]["value"])
        body = current.get("RefDot") or current.get("RefBrack")
        if body is None:
            return None
        current = body["refr"]
    return None


def _span(node: dict[str, Any]) -> dict[str, int]:
    (body,) = node.values()
    span: dict[str, int] = body["span"]
    return span


def _chain(
    node: dict[str, Any],
) -> tuple[str | None, list[str | None], list[int], dict[str, Any] | None] | None:
    """(root var or None, segments, end offsets, root node) of a ref chain; None if not a ref.

    The root is None for a package path (a Var that is not ``data``) and also when the chain
    starts at something other than a variable (a call, a literal): then it is not data.
    """
    segments: list[str | None] = []
    ends: list[int] = []
    current = node
    while True:
        if "RefDot" in current:
            body = current["RefDot"]
            span, name = body["field"]
            segments.append(str(name))
            ends.append(int(span["end"]))
            current = body["refr"]
        elif "RefBrack" in current:
            body = current["RefBrack"]
            index = body["index"]
            segments.append(str(index["String"]["value"]) if "String" in index else None)
            ends.append(int(body["span"]["end"]))
            current = body["refr"]
        elif "Var" in current:
            if not segments:
                return None
            root = str(current["Var"]["value"])
            segments.reverse()
            ends.reverse()
            if root == DATA:
                return DATA, segments, ends, current
            return None, [root, *segments], ends, current
        else:
            return None
        if not isinstance(current, dict):
            return None


def _walk(node: Any, found: Callable[[DataRef], None]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, dict):
        return
    if "RefDot" in node or "RefBrack" in node:
        chain = _chain(node)
        if chain is not None:
            name, segments, ends, root = chain
            if name == DATA and root is not None:
                span = root["Var"]["span"]
                found(DataRef(tuple(segments), int(span["start"]), tuple(ends), int(span["line"])))
        # Bracket indexes and a chain's root are expressions of their own: walk them too.
        for inner in _chain_parts(node):
            _walk(inner, found)
        return
    if "Var" in node and isinstance(node["Var"], dict):
        if node["Var"].get("value") == DATA:
            span = node["Var"]["span"]
            found(DataRef((), int(span["start"]), (), int(span["line"])))
        return
    for value in node.values():
        _walk(value, found)


def _chain_parts(node: dict[str, Any]) -> Iterator[Any]:
    """The sub-expressions of a ref chain that are not the chain itself."""
    current: Any = node
    while isinstance(current, dict):
        if "RefDot" in current:
            current = current["RefDot"]["refr"]
        elif "RefBrack" in current:
            yield current["RefBrack"]["index"]
            current = current["RefBrack"]["refr"]
        elif "Var" in current:
            return
        else:
            yield current
            return
