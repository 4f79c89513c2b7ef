"""One Dockerfile word as BuildKit's shell lexer reads it: quotes removed, ``$VAR`` expanded.

Follows ``frontend/dockerfile/shell/lex.go``: single quotes keep everything, double quotes
expand variables and let the escape character escape ``"``, ``$`` and itself, and outside
quotes the escape character makes the next character literal. ``$VAR``, ``${VAR}``,
``${VAR:-word}``, ``${VAR-word}``, ``${VAR:+word}`` and ``${VAR+word}`` are expanded (the word
is itself a word, so defaults nest); other modifiers leave the expression as written and
count the variable as unresolved.

One left-to-right pass, no regular expression, with two limits checked before the work:
the bytes that variable values add to the output (``Expansion.budget``, shared by every word
of a file, so that ``ARG B=$A$A`` chains cannot grow exponentially) and the nesting depth of
``${...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Bytes that variable values may add to the words of one Dockerfile, all words together.
MAX_EXPANSION_BYTES = 1024 * 1024
MAX_NESTING = 32


class WordError(ValueError):
    """A word the lexer cannot read; the caller adds the file and line."""


@dataclass
class Expansion:
    """What expansion may still add to one file's words, and the variables without value."""

    budget: int = MAX_EXPANSION_BYTES
    limit: int = MAX_EXPANSION_BYTES
    unresolved: list[str] = field(default_factory=list)

    def spend(self, size: int) -> None:
        if size > self.budget:
            raise WordError(f"ARG expansion exceeds {self.limit} bytes")
        self.budget -= size

    def missing(self, name: str) -> None:
        if name and name not in self.unresolved:
            self.unresolved.append(name)


def expand_word(
    text: str,
    variables: Mapping[str, str | None],
    escape: str,
    expansion: Expansion,
    *,
    keep: frozenset[str] = frozenset(),
) -> str:
    """``text`` as the build reads it. Variables in ``keep`` that have no value stay as written."""
    lexer = _Lexer(text, variables, escape, expansion, keep)
    return lexer.word(stop="", depth=0)


class _Lexer:
    def __init__(
        self,
        text: str,
        variables: Mapping[str, str | None],
        escape: str,
        expansion: Expansion,
        keep: frozenset[str],
    ) -> None:
        self.text = text
        self.pos = 0
        self.variables = variables
        self.escape = escape
        self.expansion = expansion
        self.keep = keep

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        char = self.peek()
        self.pos += 1 if char else 0
        return char

    def word(self, stop: str, depth: int) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.peek()
            if stop and char == stop:
                self.pos += 1
                return "".join(out)
            if char == "$":
                out.append(self.dollar(depth))
            elif char == "'":
                out.append(self.single_quoted())
            elif char == '"':
                out.append(self.double_quoted(depth))
            else:
                self.pos += 1
                if char == self.escape:
                    char = self.next()
                out.append(char)
        if stop:
            raise WordError(f"missing {stop!r}")
        return "".join(out)

    def single_quoted(self) -> str:
        self.pos += 1
        end = self.text.find("'", self.pos)
        if end < 0:
            raise WordError("unterminated single quote")
        value = self.text[self.pos : end]
        self.pos = end + 1
        return value

    def double_quoted(self, depth: int) -> str:
        self.pos += 1
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise WordError("unterminated double quote")
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "$":
                out.append(self.dollar(depth))
                continue
            self.pos += 1
            if char == self.escape and self.peek() in ('"', "$", self.escape) and self.peek():
                char = self.next()
            out.append(char)

    def name(self) -> str:
        start = self.pos
        if self.peek().isdigit():
            while self.peek().isdigit():
                self.pos += 1
            return self.text[start : self.pos]
        while (char := self.peek()) and (char.isalnum() or char == "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def value(self, name: str) -> str | None:
        value = self.variables.get(name)
        if value is not None:
            self.expansion.spend(len(value))
        return value

    def dollar(self, depth: int) -> str:
        start = self.pos
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.simple(name, start)
        self.pos += 1
        if depth >= MAX_NESTING:
            raise WordError(f"variables nest deeper than {MAX_NESTING} levels")
        if self.peek() in ("", "{", "}", ":"):
            raise WordError("bad substitution")
        name = self.name()
        operator = self.next()
        if operator == "}":
            return self.simple(name, start)
        if operator == ":" and self.peek() in ("-", "+"):
            operator += self.next()
        if operator not in ("-", "+", ":-", ":+"):
            self.word(stop="}", depth=depth + 1)  # consumed; its meaning is not modelled
            self.expansion.missing(name)
            return self.text[start : self.pos]
        alternative = self.word(stop="}", depth=depth + 1)
        if name in self.keep and name not in self.variables:
            return self.text[start : self.pos]
        value = self.value(name)
        is_set = value is not None and (value != "" or not operator.startswith(":"))
        if operator.endswith("-"):
            return value if is_set and value is not None else alternative
        return alternative if is_set else ""

    def simple(self, name: str, start: int) -> str:
        if name in self.keep and name not in self.variables:
            return self.text[start : self.pos]
        value = self.value(name)
        if value is None:
            self.expansion.missing(name)
            return ""
        return value
