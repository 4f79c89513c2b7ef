"""The policy input: a JSON-compatible document plus where each of its fields came from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class PolicyInput:
    """One document that policies evaluate.

    ``kind`` selects the policies (their package METADATA names the kinds they read);
    ``target`` is the stable name a waiver refers to (``file`` or ``file#Kind/ns/name``);
    ``lines`` maps field paths inside ``document`` to 1-based source lines.
    """

    kind: str
    target: str
    file: str
    document: Any
    lines: Mapping[FieldPath, int] = field(default_factory=dict)
    line: int = 1
    # For inputs derived from a stack configuration: the line of each configuration key.
    settings: Mapping[str, int] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int] | None) -> int:
        """The source line of ``path``, or of its nearest located ancestor."""
        if path:
            probe: FieldPath = tuple(path)
            while probe:
                found = self.lines.get(probe)
                if found is not None:
                    return found
                probe = probe[:-1]
        return self.line


@dataclass(frozen=True)
class InputProblem:
    """A file that should have been a policy input but could not be read or parsed."""

    file: str
    message: str
    line: int = 1
