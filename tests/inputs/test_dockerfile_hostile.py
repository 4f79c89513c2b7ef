"""Hostile and malformed Dockerfiles end as one-line input errors naming the file and line,
within the documented limits; words read as BuildKit's shell lexer reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.inputs._dockerfile import DOCKERFILE_KIND, parse_dockerfile
from sealgate.inputs._dockerfile_words import (
    MAX_EXPANSION_BYTES,
    MAX_NESTING,
    Expansion,
    WordError,
    expand_word,
)
from sealgate.inputs._model import PolicyInput

from tests.conftest import run_sealgate

# Each ARG doubles the one before: 40 of them would be 16 TiB without a limit.
ARG_BOMB = (
    "ARG A0=xxxxxxxxxxxxxxxx\n"
    + "".join(f"ARG A{n + 1}=${{A{n}}}${{A{n}}}\n" for n in range(40))
    + "FROM alpine\n"
)
# 16 bytes doubled: the first ARG whose value passes the budget.
BOMB_LINE = next(n for n in range(41) if 16 * (2 ** (n + 1) - 2) > MAX_EXPANSION_BYTES) + 1


def parse(tmp_path: Path, content: str) -> PolicyInput:
    path = tmp_path / "Dockerfile"
    path.write_text(content)
    [policy_input] = parse_dockerfile(DOCKERFILE_KIND, path)
    return policy_input


def parse_error(tmp_path: Path, content: str) -> str:
    with pytest.raises(InputError) as caught:
        parse(tmp_path, content)
    message = str(caught.value)
    assert "\n" not in message
    return message


def expand(text: str, **variables: str | None) -> str:
    return expand_word(text, variables, "\\", Expansion())


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ('"alpine:3.24.1"', "alpine:3.24.1"),
        ('alpine:"3.24.1"', "alpine:3.24.1"),
        ("'mcr.microsoft.com/a'@sha256:00", "mcr.microsoft.com/a@sha256:00"),
        ("'$X'", "$X"),
        ('"$X"', "x"),
        ("\\$X", "$X"),
        ('"a\\"b"', 'a"b'),
        ("${X:-d}/${U:-${X}y}", "x/xy"),
        ("${E:-d}${E-d}${E:+a}${E+a}", "da"),
        ("$1${X}$", "x$"),
    ],
)
def test_words_read_as_the_buildkit_lexer(word: str, expected: str) -> None:
    assert expand(word, X="x", E="") == expected


@pytest.mark.parametrize(
    ("word", "problem"),
    [
        ('"alpine', "unterminated double quote"),
        ("'alpine", "unterminated single quote"),
        ("${X", "missing '}'"),
        ("${}", "bad substitution"),
        ("${:-x}", "bad substitution"),
        ("${A:-" * (MAX_NESTING + 1), f"nest deeper than {MAX_NESTING} levels"),
    ],
)
def test_unreadable_words(word: str, problem: str) -> None:
    with pytest.raises(WordError, match=problem):
        expand(word)


def test_expansion_budget_is_shared_by_every_word() -> None:
    expansion = Expansion(budget=10, limit=10)
    assert expand_word("$A$A", {"A": "abcd"}, "\\", expansion) == "abcdabcd"
    with pytest.raises(WordError, match="ARG expansion exceeds 10 bytes"):
        expand_word("$A", {"A": "abcd"}, "\\", expansion)


def test_quoted_from_reads_as_docker_reads_it(tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    content = f'FROM "mcr.microsoft.com/azurelinux/base/core:3.0@{digest}"\nFROM alpine:"3.24.1"\n'
    first, second = parse(tmp_path, content).document["stages"]
    assert first["from"]["raw"].startswith('"')
    assert (first["from"]["registry"], first["from"]["digest"]) == ("mcr.microsoft.com", digest)
    assert (second["from"]["repository"], second["from"]["tag"]) == ("library/alpine", "3.24.1")


def test_quoted_arg_defaults(tmp_path: Path) -> None:
    content = 'ARG A="x y" B=\'$A\' C="$A"\nFROM alpine\n'
    assert parse(tmp_path, content).document["args"] == {"A": "x y", "B": "$A", "C": "x y"}


def test_arg_bomb_stops_at_the_line_that_passes_the_limit(tmp_path: Path) -> None:
    message = parse_error(tmp_path, ARG_BOMB)
    assert message.endswith(
        f"Dockerfile:{BOMB_LINE}: ARG expansion exceeds {MAX_EXPANSION_BYTES} bytes"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("\\", "Dockerfile:1: no FROM instruction"),
        ("\\\n\\\n\\", "Dockerfile:1: no FROM instruction"),
        ("FROM alpine\n\\\nUSER app\n", None),
        ('FROM "alpine\n', "Dockerfile:1: unterminated double quote"),
        ("ARG X=${A\nFROM alpine\n", "Dockerfile:1: missing '}'"),
        ("FROM alpine\nCMD " + "[" * 50_000 + "]" * 50_000 + "\n", "Dockerfile:2: a JSON"),
        ("X" * 100_000 + "\n", "Dockerfile:1: unknown instruction 'XXX"),
    ],
)
def test_malformed_files_are_one_line_input_errors(
    tmp_path: Path, content: str, expected: str | None
) -> None:
    if expected is None:
        assert parse(tmp_path, content).document["stages"][0]["user"] == "app"
        return
    message = parse_error(tmp_path, content)
    assert expected in message and len(message) < 300


def test_long_directive_line_is_read(tmp_path: Path) -> None:
    """A first line of many blanks (quadratic for a backtracking regex) is still a directive."""
    content = "# syntax=x" + " \t" * 200_000 + "y\nFROM alpine\n"
    directives = parse(tmp_path, content).document["directives"]
    assert directives["syntax"].startswith("x") and directives["syntax"].endswith("y")


def test_many_stages_resolve_their_parents(tmp_path: Path) -> None:
    content = "".join(f"FROM {'alpine' if n == 0 else f's{n - 1}'} AS s{n}\n" for n in range(5000))
    stages = parse(tmp_path, content).document["stages"]
    assert [s["from"]["stage"] for s in stages[:3]] == [None, 0, 1] and stages[-1]["from"][
        "stage"
    ] == 4998


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("\\", "Dockerfile:1: no FROM instruction"),
        ("RUN" + " x" * 40_000 + "\n", "Dockerfile:1: RUN before the first FROM"),
        ("X" * 100_000 + "\n", "Dockerfile:1: unknown instruction"),
        (ARG_BOMB, f"Dockerfile:{BOMB_LINE}: ARG expansion exceeds {MAX_EXPANSION_BYTES} bytes"),
    ],
)
def test_cli_reports_hostile_files_as_unreadable_inputs(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "Dockerfile").write_text(content)
    run = run_sealgate("check", "--no-config", "Dockerfile", cwd=tmp_path)
    assert run.code == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stdout + run.stderr
    [line] = [line for line in run.stdout.splitlines() if "SG-GATE-004" in line]
    assert message in line and len(line) < 400


@pytest.mark.parametrize(
    "content",
    [
        "FROM alpine " + "b " * 50_000,
        "FROM alpine\nRUN <<" + "E" * 50_000 + "\n",
        "# escape=" + "x" * 50_000 + "\nFROM alpine\n",
    ],
)
def test_messages_quote_a_bounded_part_of_the_file(tmp_path: Path, content: str) -> None:
    assert len(parse_error(tmp_path, content)) < 400


def test_many_leading_flags_are_read(tmp_path: Path) -> None:
    """Each flag is taken at a cursor (re-splitting the rest per flag was quadratic)."""
    content = (
        "FROM alpine\nRUN " + "--network=none " * 20_000 + "--mount=type=cache,target=/c echo hi\n"
    )
    run = parse(tmp_path, content).document["stages"][0]["instructions"][1]
    assert len(run["flags"]["network"]) == 20_000 and run["flags"]["mount"] == [
        "type=cache,target=/c"
    ]
    assert run["value"] == "echo hi"
