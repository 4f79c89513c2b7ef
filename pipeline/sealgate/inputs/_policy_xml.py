"""API Management policy XML as data the Rego rules can read: an element tree of dicts.

Rules that look for ``<validate-jwt>`` in the raw text are fooled by comments, CDATA and
formatting; rules that walk the parsed tree are not. The document is parsed with expat
(the stdlib parser) with its limits checked first: size before parsing, depth and element
count while parsing, and no DTD at all (so no entity expansion).

Each element is ``{"tag", "attributes", "text", "children"}``; ``text`` is the element's own
character data, stripped. Comments and processing instructions are not part of the tree.
"""

from __future__ import annotations

from typing import Any
from xml.parsers import expat

MAX_XML_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_ELEMENTS = 10_000


class PolicyXmlError(ValueError):
    """The policy is not XML the gate reads (malformed, too large, too deep, or with a DTD)."""


def parse_policy_xml(text: str) -> dict[str, Any]:
    """The root element of ``text`` as a dict tree, or PolicyXmlError saying why not."""
    data = text.encode("utf-8")
    if len(data) > MAX_XML_BYTES:
        raise PolicyXmlError(f"the policy XML is {len(data)} bytes (limit {MAX_XML_BYTES})")
    builder = _TreeBuilder()
    parser = expat.ParserCreate()
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.text
    parser.StartDoctypeDeclHandler = _refuse_doctype
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise PolicyXmlError(f"the policy is not well-formed XML: {exc}") from None
    if builder.root is None:
        raise PolicyXmlError("the policy XML has no root element")
    return builder.root


def _refuse_doctype(*_: Any) -> None:
    raise PolicyXmlError("the policy XML declares a DTD (not allowed)")


class _TreeBuilder:
    def __init__(self) -> None:
        self.root: dict[str, Any] | None = None
        self.stack: list[dict[str, Any]] = []
        self.texts: list[list[str]] = []
        self.count = 0

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise PolicyXmlError(f"the policy XML has more than {MAX_ELEMENTS} elements")
        if len(self.stack) >= MAX_DEPTH:
            raise PolicyXmlError(f"the policy XML nests deeper than {MAX_DEPTH} elements")
        element: dict[str, Any] = {
            "tag": tag,
            "attributes": dict(attributes),
            "text": "",
            "children": [],
        }
        if self.stack:
            self.stack[-1]["children"].append(element)
        else:
            self.root = element
        self.stack.append(element)
        self.texts.append([])

    def end(self, _tag: str) -> None:
        element = self.stack.pop()
        element["text"] = "".join(self.texts.pop()).strip()

    def text(self, data: str) -> None:
        if self.texts:
            self.texts[-1].append(data)
