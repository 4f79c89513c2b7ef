"""The simple commands of a ``RUN`` script, split once so that policies look words up.

A POSIX-shell reading sufficient for policy, in one left-to-right pass: quotes removed
(single quotes literal, double quotes with ``\\`` escaping ``"``, ``\\``, ``$`` and a
newline), ``\\`` newline joins lines, ``#`` at the start of a word comments out the rest of
the line, and commands are cut at ``&&``, ``||``, ``;``, ``&``, ``|``, parentheses, backticks,
``$(`` and newlines. Redirections (``>``, ``2>&1``, ``&>>``, ``< file``, ``<<EOF``) are
dropped with their targets, so ``> /dev/null`` names no package. ``sh -c 'script'`` (and
bash, dash, ash, ksh, zsh) contributes the commands of its script as well, two levels deep.

Each command::

    {
      "words": ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "curl"],
      "names": ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "curl"],
      "programs": ["apt-get"],
    }

``names`` are the words' basenames without a version suffix (``/usr/bin/pip3.11`` -> ``pip``,
``python3`` -> ``python``), one per word; ``programs`` are the names in command position:
the first word after ``NAME=value`` assignments and shell keywords, and after each wrapper
that runs the rest of its words as a command (``sudo``, ``env``, ``xargs``, ``nohup``,
``exec``, ``command``, ``time``, ``nice``, ``timeout``, ``stdbuf``), skipping their options.
"""

from __future__ import annotations

import re
from typing import TypedDict

_SEPARATORS = frozenset(";&|()`\n")
_PLAIN = re.compile(r"[^\\ \t\r#'\"$;&|()`\n<>]+")
_REDIRECT_CHARS = frozenset("<>")
SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "zsh"})
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"})
# Wrappers that run their remaining words as a command, and their options taking a value.
_WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "-R"}),
    "env": frozenset({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}),
    "xargs": frozenset({"-I", "-L", "-n", "-P", "-s", "-d", "-E", "-a", "--arg-file"}),
    "nohup": frozenset(),
    "exec": frozenset({"-a"}),
    "command": frozenset(),
    "time": frozenset({"-f", "-o"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
}
# ``timeout DURATION command``: one operand before the command.
_WRAPPER_OPERANDS = {"timeout": 1}
MAX_SHELL_DEPTH = 2


class ShellCommand(TypedDict):
    words: list[str]
    names: list[str]
    programs: list[str]


class _Token:
    __slots__ = ("redirect", "target_attached", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.redirect = False
        self.target_attached = False


def shell_commands(script: str, depth: int = 0) -> list[ShellCommand]:
    """The simple commands of ``script``, in order (see the module docstring)."""
    commands: list[ShellCommand] = []
    for tokens in _split(script):
        commands.extend(exec_commands(_without_redirections(tokens), depth))
    return commands


def exec_commands(words: list[str], depth: int = 0) -> list[ShellCommand]:
    """``words`` run without a shell (the exec form), and the script of a ``sh -c`` in them."""
    if not words:
        return []
    names = [program_name(word) for word in words]
    commands: list[ShellCommand] = [
        {"words": words, "names": names, "programs": _programs(words, names)}
    ]
    inner = _shell_script(words, names)
    if inner is not None and depth < MAX_SHELL_DEPTH:
        commands.extend(shell_commands(inner, depth + 1))
    return commands


def program_name(word: str) -> str:
    """The basename of ``word`` without a trailing version (``/usr/bin/python3.11`` -> python)."""
    base = word.rsplit("/", 1)[-1]
    stripped = base.rstrip("0123456789.")
    return stripped if stripped[-1:].isalpha() else base


def _split(script: str) -> list[list[_Token]]:
    """Commands as token lists; one pass over the characters."""
    commands: list[list[_Token]] = []
    tokens: list[_Token] = []
    token: _Token | None = None
    position, length = 0, len(script)

    def word_token() -> _Token:
        nonlocal token
        token = token or _Token()
        if token.redirect:
            token.target_attached = True
        return token

    def end_word() -> None:
        nonlocal token
        if token is not None:
            tokens.append(token)
            token = None

    def end_command() -> None:
        nonlocal tokens
        end_word()
        if tokens:
            commands.append(tokens)
            tokens = []

    while position < length:
        char = script[position]
        position += 1
        if char == "\\":
            if position < length and script[position] == "\n":
                position += 1
                continue
            if position < length:
                word_token().text.append(script[position])
                position += 1
        elif char in " \t\r":
            end_word()
        elif char == "#" and token is None:
            newline = script.find("\n", position)
            position = length if newline < 0 else newline
        elif char == "'":
            end = script.find("'", position)
            end = length if end < 0 else end
            word_token().text.append(script[position:end])
            position = end + 1
        elif char == '"':
            position = _double_quoted(script, position, word_token().text)
        elif char == "$" and position < length and script[position] == "(":
            end_command()
            position += 1
        elif char == "&" and position < length and script[position] == ">" and token is None:
            token = _Token()
            token.text.append("&")
        elif char == "&" and token is not None and token.redirect and not token.target_attached:
            token.text.append(char)  # 2>&1
        elif char in _SEPARATORS:
            end_command()
        elif char in _REDIRECT_CHARS:
            if token is not None and not (token.redirect or _fd_prefix(token)):
                end_word()
            token = token or _Token()
            token.redirect = True
            token.text.append(char)
            while position < length and script[position] in "<>|-":
                token.text.append(script[position])
                position += 1
        else:
            # A run of plain characters at once: one character class, no backtracking.
            run = _PLAIN.match(script, position)
            end = run.end() if run else position
            word_token().text.append(script[position - 1 : end])
            position = end
    end_command()
    return commands


def _fd_prefix(token: _Token) -> bool:
    """``2`` of ``2>``, ``&`` of ``&>``: the token so far is part of the redirection."""
    text = "".join(token.text)
    return text == "&" or text.isdigit()


def _double_quoted(script: str, position: int, out: list[str]) -> int:
    """Read a double-quoted span starting after its quote; return the position after it."""
    length = len(script)
    while position < length:
        char = script[position]
        position += 1
        if char == '"':
            return position
        if char == "\\" and position < length and script[position] in '"\\$`\n':
            if script[position] != "\n":
                out.append(script[position])
            position += 1
            continue
        out.append(char)
    return position


def _without_redirections(tokens: list[_Token]) -> list[str]:
    words: list[str] = []
    skip_target = False
    for token in tokens:
        if skip_target:
            skip_target = False
            continue
        if token.redirect:
            skip_target = not token.target_attached
            continue
        words.append("".join(token.text))
    return words


def _programs(words: list[str], names: list[str]) -> list[str]:
    programs: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in _KEYWORDS or _assignment(word):
            index += 1
            continue
        name = names[index]
        programs.append(name)
        if name not in _WRAPPERS:
            break
        index = _after_options(words, index + 1, _WRAPPERS[name], _WRAPPER_OPERANDS.get(name, 0))
    return programs


def _after_options(words: list[str], index: int, with_value: frozenset[str], operands: int) -> int:
    """The index of the wrapped command: past options, option values and ``operands``."""
    while index < len(words):
        word = words[index]
        if word == "--":
            return index + 1 + operands
        if word.startswith("-") and len(word) > 1:
            index += 2 if word in with_value else 1
        elif _assignment(word):
            index += 1
        else:
            return index + operands
    return index


def _assignment(word: str) -> bool:
    name, equals, _ = word.partition("=")
    return bool(equals) and name.isidentifier()


def _shell_script(words: list[str], names: list[str]) -> str | None:
    """The script of ``sh -c 'script'`` (options may be clustered: ``-ec``), else None."""
    for index, name in enumerate(names):
        if name in SHELLS:
            for position in range(index + 1, len(words)):
                word = words[position]
                if not word.startswith("-"):
                    return None
                if not word.startswith("--") and "c" in word[1:]:
                    return words[position + 1] if position + 1 < len(words) else None
            return None
    return None
