"""Dockerfiles (and Containerfiles) as policy inputs, one input per file.

The reader follows BuildKit's Dockerfile frontend: parser directives at the top
(``# escape=`` and ``# syntax=``), line continuations with the escape character, comment and
blank lines inside a continuation dropped, heredocs on ``RUN``, ``COPY`` and ``ADD``, leading
``--flag[=value]`` words, and the JSON (exec) form. ``ARG``s declared before the first
``FROM`` are substituted into ``FROM`` with their defaults (``$VAR``, ``${VAR}``,
``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``, ``${VAR+alt}``); a build may override
them, so the resolved image is the one the file builds by default. Words of ``FROM`` and
``ARG`` are read by BuildKit's shell lexer (``_dockerfile_words.py``): quotes removed, so
``FROM "alpine:3.24.1"`` and ``FROM alpine:"3.24.1"`` name ``alpine:3.24.1``.

Cost is linear in the file: no backtracking regular expression runs on unbounded text, and
variable values may add at most ``MAX_EXPANSION_BYTES`` (1 MiB) to one file's words, ``${...}``
nesting at most 32 levels; past either the file is an input error naming its line.

The document::

    {
      "directives": {"escape": "\\\\", "syntax": "docker/dockerfile:1"},  # as written
      "args": {"NAME": "default" | null},           # ARGs before the first FROM
      "stages": [
        {
          "index": 0,
          "name": "build" | null,                   # AS name, lower-cased
          "from": {
            "raw": "${BASE}",                       # as written
            "image": "python:3.11",                 # ARGs substituted
            "registry": "docker.io", "repository": "library/python",
            "tag": "3.11" | null, "digest": "sha256:..." | null,
            "platform": "linux/amd64" | null,       # --platform, ARGs substituted
            "stage": 0 | null,                      # index of the earlier stage it builds on
            "scratch": false,
            "unresolved": ["VAR"],                  # variables that had no value
          },
          "instructions": [                         # FROM included, in file order
            {
              "cmd": "RUN",                         # upper-cased
              "value": "apt-get update",            # text after the flags, continuations joined
              "args": ["apt-get update"],           # exec form: the JSON array; RUN, CMD,
                                                    # ENTRYPOINT, SHELL, HEALTHCHECK shell form:
                                                    # [value]; others: whitespace-split words
              "json_form": false,
              "flags": {"mount": ["type=cache,target=/root/.cache"]},  # every --flag's values
              "heredocs": [{"name": "EOF", "content": "...", "strip_tabs": false, "line": 8}],
              "commands": [{"words": [...], "names": [...], "programs": [...]}],
                                                    # RUN only: the simple commands of its
                                                    # script and heredocs (_shell_commands.py)
              "line": 7, "end_line": 10,
            },
          ],
          "user": "app" | null,                     # last USER of the stage, or inherited from
                                                    # the stage it builds on; null: image default
        },
      ],
      "final_stage": 1,
    }

Every instruction's path maps to its first line, ``from`` to its ``FROM`` line, ``user`` to the
``USER`` line that set it, ``args.NAME`` to its ``ARG`` line and each heredoc's ``content`` to
the heredoc's first body line, so a finding's ``path`` lands on the offending line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._dockerfile_words import Expansion, WordError, expand_word
from sealgate.inputs._model import FieldPath, PolicyInput
from sealgate.inputs._shell_commands import SHELLS, ShellCommand, exec_commands, shell_commands
from sealgate.inputs._structured import read_text

DOCKERFILE_KIND = "dockerfile"

INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip
_HEREDOC_COMMANDS = frozenset({"RUN", "COPY", "ADD"})
_SHELL_STRING_COMMANDS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "HEALTHCHECK"})
_DIRECTIVE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_WORD = re.compile(r"\S+")
_BLANKS = re.compile(r"\s*")
_FLAG = re.compile(r"^--([A-Za-z][A-Za-z0-9-]*)(?:=(.*))?$")
# As in BuildKit, a heredoc opens a word: ``<<EOF``, ``<<-EOF``, ``<<"EOF"``, ``2<<EOF``.
_HEREDOC = re.compile(r"(?<!\S)\d*<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2(?![<\w])")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$")
DEFAULT_REGISTRY = "docker.io"
_SHOWN = 60  # characters of the file's text quoted in an error message
# BuildKit sets these on every build; they stay as written rather than counting as unresolved.
AUTOMATIC_ARGS = frozenset(
    f"{prefix}{suffix}"
    for prefix in ("BUILD", "TARGET")
    for suffix in ("PLATFORM", "OS", "ARCH", "VARIANT")
)


class Heredoc(TypedDict):
    name: str
    content: str
    strip_tabs: bool
    line: int


class Instruction(TypedDict):
    cmd: str
    value: str
    args: list[str]
    json_form: bool
    flags: dict[str, list[str]]
    heredocs: list[Heredoc]
    commands: list[ShellCommand]
    line: int
    end_line: int


class ImageReference(TypedDict):
    registry: str | None
    repository: str | None
    tag: str | None
    digest: str | None
    scratch: bool


class StageSource(ImageReference):
    raw: str
    image: str
    platform: str | None
    stage: int | None
    unresolved: list[str]


# Functional form: ``from`` is a keyword.
Stage = TypedDict(
    "Stage",
    {
        "index": int,
        "name": str | None,
        "from": StageSource,
        "instructions": list[Instruction],
        "user": str | None,
    },
)


class DockerfileDocument(TypedDict):
    args: dict[str, str | None]
    stages: list[Stage]
    final_stage: int
    directives: dict[str, str]


@dataclass
class _Instruction:
    cmd: str
    text: str
    line: int
    end_line: int
    heredocs: list[Heredoc] = field(default_factory=list)


def parse_dockerfile(kind: str, path: Path, context: object = None) -> list[PolicyInput]:
    """The whole file as one input of ``kind`` (normally ``dockerfile``)."""
    shown = display_path(path)
    document, lines = dockerfile_document(read_text(path), path)
    return [
        PolicyInput(kind=kind, target=shown, file=shown, document=document, lines=lines, line=1)
    ]


def dockerfile_document(source: str, path: Path) -> tuple[DockerfileDocument, dict[FieldPath, int]]:
    """The document described in the module docstring, and its field-path -> line map."""
    physical = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    directives, first_body_line = _directives(physical)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise InputError(f"{path}:1: escape directive must be \\ or `, not {_shown(escape)}")
    builder = _DocumentBuilder(path)
    for instruction in _instructions(physical, first_body_line, escape, path):
        builder.add(instruction, escape)
    return builder.finish(directives), builder.lines


def _directives(physical: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives: ``# key=value`` lines before anything else; each key only once."""
    directives: dict[str, str] = {}
    for index, line in enumerate(physical):
        found = _directive(line)
        if found is None:
            return directives, index
        key, value = found
        if key in directives:
            return {}, 0  # BuildKit: a repeated directive makes them all plain comments
        directives[key] = value
    return directives, len(physical)


def _directive(line: str) -> tuple[str, str] | None:
    """``# key = value`` as (lower-case key, value), else None; string operations only, so
    that the cost stays linear in the line (no regex backtracking over long blanks)."""
    stripped = line.strip()
    if not stripped.startswith("#"):
        return None
    key, has_value, value = stripped[1:].partition("=")
    key = key.strip()
    if not has_value or not _DIRECTIVE_KEY.fullmatch(key):
        return None
    return key.lower(), value.strip()


def _instructions(
    physical: list[str], start: int, escape: str, path: Path
) -> Iterator[_Instruction]:
    index = start
    total = len(physical)
    while index < total:
        stripped = physical[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        first = last = index
        parts: list[str] = []
        text = physical[index].lstrip()
        while True:
            body = text.rstrip()
            if body.endswith(escape):
                parts.append(body[: -len(escape)])
                index += 1
                while index < total and _blank_or_comment(physical[index]):
                    index += 1
                if index >= total:
                    break
                text, last = physical[index], index
                continue
            parts.append(text)
            break
        end = last
        joined = "".join(parts).strip()
        if not joined:  # only escape characters: a continuation of nothing
            index = end + 1
            continue
        cmd, rest = (*joined.split(None, 1), "")[:2]
        cmd = cmd.upper()
        if cmd not in INSTRUCTIONS:
            raise InputError(f"{path}:{first + 1}: unknown instruction {_shown(cmd)}")
        instruction = _Instruction(cmd, rest.strip(), first + 1, end + 1)
        index = end + 1
        if cmd in _HEREDOC_COMMANDS or (cmd == "ONBUILD" and _onbuild_target(rest)):
            index = _read_heredocs(instruction, physical, index, path)
        yield instruction


def _shown(text: str) -> str:
    """``text`` quoted for a one-line message, cut to a readable length."""
    return repr(text) if len(text) <= _SHOWN else f"{text[:_SHOWN]!r}... ({len(text)} characters)"


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


def _onbuild_target(rest: str) -> bool:
    return rest.split(None, 1)[0].upper() in _HEREDOC_COMMANDS if rest.strip() else False


def _blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _read_heredocs(instruction: _Instruction, physical: list[str], index: int, path: Path) -> int:
    """Consume the bodies of the heredocs the instruction opens, in order; return next index."""
    if _exec_form(_without_flags(instruction.text)[1], path, instruction.line) is not None:
        return index
    for found in _HEREDOC.finditer(_unquoted(instruction.text)):
        strip_tabs, name = found.group(1) == "-", found.group(3)
        body_start = index
        body: list[str] = []
        while True:
            if index >= len(physical):
                raise InputError(
                    f"{path}:{instruction.line}: heredoc <<{_cut(name)} is never closed "
                    f"(no line {_shown(name)} follows)"
                )
            line = physical[index]
            index += 1
            if (line.lstrip("\t") if strip_tabs else line) == name:
                break
            body.append(line.lstrip("\t") if strip_tabs else line)
        instruction.heredocs.append(
            {
                "name": name,
                "content": "".join(f"{line}\n" for line in body),
                "strip_tabs": strip_tabs,
                "line": body_start + 1,
            }
        )
        instruction.end_line = index
    return index


def _unquoted(text: str) -> str:
    """``text`` with quoted spans blanked, so ``echo "<<EOF"`` opens no heredoc.

    A quote right after ``<<`` or ``<<-`` is the heredoc's own quoted name and is kept.
    """
    out: list[str] = []
    quote = ""
    keep = False
    for char in text:
        if quote:
            out.append(char if keep or char == quote else " ")
            if char == quote:
                quote = ""
        else:
            if char in "\"'":
                quote = char
                keep = "".join(out[-3:]).endswith(("<<", "<<-"))
            out.append(char)
    return "".join(out)


def _without_flags(text: str) -> tuple[dict[str, list[str]], str]:
    """Leading ``--name[=value]`` words as a flag map, and the rest of the text.

    One pass with a cursor: re-splitting the remainder for each flag would copy the rest of
    the text once per flag."""
    flags: dict[str, list[str]] = {}
    position = 0
    while text.startswith("--", position):
        word = _WORD.match(text, position)
        found = _FLAG.match(word.group(0)) if word else None
        if word is None or found is None:
            break
        flags.setdefault(found.group(1).lower(), []).append(_unquote(found.group(2) or ""))
        blanks = _BLANKS.match(text, word.end())
        position = blanks.end() if blanks else word.end()
    return flags, text[position:]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _exec_form(text: str, path: Path, line: int) -> list[str] | None:
    """The JSON array of the exec form, or None for the shell form (as BuildKit decides)."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    except RecursionError:  # nested arrays: valid JSON, but not an array of strings
        raise InputError(
            f"{path}:{line}: a JSON (exec) form array must hold only strings"
        ) from None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise InputError(f"{path}:{line}: a JSON (exec) form array must hold only strings")
    return value


class _DocumentBuilder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.args: dict[str, str | None] = {}
        self.stages: list[Stage] = []
        self.stage_names: dict[str, int] = {}
        self.lines: dict[FieldPath, int] = {}
        self.expansion = Expansion()

    def add(self, instruction: _Instruction, escape: str) -> None:
        flags, value = _without_flags(instruction.text)
        exec_args = _exec_form(value, self.path, instruction.line)
        entry: Instruction = {
            "cmd": instruction.cmd,
            "value": value,
            "args": exec_args if exec_args is not None else _shell_args(instruction.cmd, value),
            "json_form": exec_args is not None,
            "flags": flags,
            "heredocs": instruction.heredocs,
            "commands": [],
            "line": instruction.line,
            "end_line": instruction.end_line,
        }
        if instruction.cmd == "RUN":
            entry["commands"] = _run_commands(entry)
        if instruction.cmd == "FROM":
            self._start_stage(entry, escape)
        elif not self.stages:
            if instruction.cmd != "ARG":
                raise InputError(
                    f"{self.path}:{instruction.line}: {instruction.cmd} before the first FROM "
                    "(only ARG may come first)"
                )
            self._global_args(value, instruction.line, escape)
            return
        stage_index = len(self.stages) - 1
        stage = self.stages[stage_index]
        position = len(stage["instructions"])
        stage["instructions"].append(entry)
        where: FieldPath = ("stages", stage_index, "instructions", position)
        self.lines[where] = instruction.line
        for number, heredoc in enumerate(instruction.heredocs):
            self.lines[(*where, "heredocs", number)] = heredoc["line"]
        if instruction.cmd == "USER" and entry["args"]:
            stage["user"] = entry["args"][0]
            self.lines[("stages", stage_index, "user")] = instruction.line

    def _global_args(self, value: str, line: int, escape: str) -> None:
        for word in _raw_words(value, escape):
            name, has_default, default = word.partition("=")
            name = self._expand(name, line, escape, unresolved=[])
            resolved = self._expand(default, line, escape, unresolved=[]) if has_default else None
            self.args[name] = resolved
            self.lines[("args", name)] = line

    def _expand(self, text: str, line: int, escape: str, unresolved: list[str]) -> str:
        """``text`` with quotes removed and the ARGs so far substituted, as BuildKit reads it;
        the variables left without a value are added to ``unresolved``."""
        self.expansion.unresolved = unresolved
        try:
            return expand_word(text, self.args, escape, self.expansion, keep=AUTOMATIC_ARGS)
        except WordError as exc:
            raise InputError(f"{self.path}:{line}: {exc}") from None

    def _start_stage(self, entry: Instruction, escape: str) -> None:
        words = entry["value"].split()
        if not words:
            raise InputError(f"{self.path}:{entry['line']}: FROM names no image")
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise InputError(
                f"{self.path}:{entry['line']}: FROM takes an image and optionally AS name, "
                f"not {_shown(entry['value'])}"
            )
        index = len(self.stages)
        name = words[2].lower() if len(words) == 3 else None
        unresolved: list[str] = []
        image = self._expand(words[0], entry["line"], escape, unresolved)
        platform = None
        if "platform" in entry["flags"]:
            platform = self._expand(
                entry["flags"]["platform"][-1], entry["line"], escape, unresolved
            )
        parent = self.stage_names.get(image.lower())
        source: StageSource = {
            "raw": words[0],
            "image": image,
            **_reference(image, is_stage=parent is not None),
            "platform": platform,
            "stage": parent,
            "unresolved": unresolved,
        }
        self.stages.append(
            {"index": index, "name": name, "from": source, "instructions": [], "user": None}
        )
        if name is not None:
            self.stage_names[name] = index
        if parent is not None and self.stages[parent]["user"] is not None:
            self.stages[index]["user"] = self.stages[parent]["user"]
            self.lines[("stages", index, "user")] = self.lines[("stages", parent, "user")]
        self.lines[("stages", index)] = entry["line"]
        self.lines[("stages", index, "from")] = entry["line"]

    def finish(self, directives: dict[str, str]) -> DockerfileDocument:
        if not self.stages:
            raise InputError(f"{self.path}:1: no FROM instruction: not a Dockerfile")
        for stage_index, stage in enumerate(self.stages):
            for position, entry in enumerate(stage["instructions"]):
                for number, heredoc in enumerate(entry["heredocs"]):
                    where = ("stages", stage_index, "instructions", position, "heredocs", number)
                    self.lines[(*where, "content")] = heredoc["line"]
        return {
            "args": self.args,
            "stages": self.stages,
            "final_stage": len(self.stages) - 1,
            "directives": directives,
        }


def _run_commands(entry: Instruction) -> list[ShellCommand]:
    """The simple commands a RUN executes: its command line, then each heredoc body that a
    shell runs (``RUN <<EOF``, ``RUN bash <<EOF``, ``RUN cat <<EOF | sh``; not the data of
    ``RUN cat <<EOF > /etc/apt/sources.list`` nor the Python of ``RUN python3 <<EOF``)."""
    if entry["json_form"]:
        commands = exec_commands(entry["args"])
    else:
        commands = shell_commands(entry["value"])
    shell_reads_heredocs = not commands or any(
        program in SHELLS for command in commands for program in command["programs"]
    )
    if shell_reads_heredocs:
        for heredoc in entry["heredocs"]:
            commands.extend(shell_commands(heredoc["content"]))
    return commands


def _shell_args(cmd: str, value: str) -> list[str]:
    if cmd in _SHELL_STRING_COMMANDS:
        return [value] if value else []
    return _words(value)


def _words(value: str) -> list[str]:
    """Whitespace-separated words; quotes keep spaces inside a word (and are removed)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    started = False
    for char in value:
        if quote:
            if char == quote:
                quote = ""
            else:
                current.append(char)
        elif char in "\"'":
            quote, started = char, True
        elif char.isspace():
            if started:
                words.append("".join(current))
                current, started = [], False
        else:
            current.append(char)
            started = True
    if started:
        words.append("".join(current))
    return words


def _raw_words(value: str, escape: str) -> list[str]:
    """Whitespace-separated words as written (quotes and escapes kept for the lexer)."""
    words: list[str] = []
    start = -1
    quote = ""
    escaped = False
    for position, char in enumerate(value):
        if start < 0 and not char.isspace():
            start = position
        if escaped:
            escaped = False
        elif char == escape and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char.isspace() and start >= 0:
            words.append(value[start:position])
            start = -1
    if start >= 0:
        words.append(value[start:])
    return words


def _reference(image: str, *, is_stage: bool) -> ImageReference:
    """Registry, repository, tag and digest of an image reference, normalised like Docker."""
    if is_stage:
        return _no_reference(scratch=False)
    if image.lower() == "scratch":
        return _no_reference(scratch=True)
    name, _, digest = image.partition("@")
    tag = None
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, _, remainder = name.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, remainder
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"library/{repository}"
    return {
        "registry": registry,
        "repository": repository,
        "tag": tag or None,
        "digest": digest if digest and _DIGEST.match(digest) else (digest or None),
        "scratch": False,
    }


def _no_reference(*, scratch: bool) -> ImageReference:
    return {"registry": None, "repository": None, "tag": None, "digest": None, "scratch": scratch}
