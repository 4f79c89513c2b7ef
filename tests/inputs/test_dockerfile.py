"""Dockerfiles become one policy input whose findings land on the offending line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.inputs._dockerfile import DOCKERFILE_KIND, parse_dockerfile
from sealgate.inputs._model import PolicyInput

MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG REGISTRY=myregistry.azurecr.io
ARG PY_VERSION=3.11
ARG VARIANT
FROM --platform=$BUILDPLATFORM ${REGISTRY}/base/python:${PY_VERSION}-slim AS Build
RUN pip install --no-cache-dir \\
    # pinned in requirements.txt
    -r requirements.txt
USER builder

FROM build AS test
RUN pytest

FROM python:${VARIANT:-3.12}-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
COPY --from=build --chmod=0755 /app /app
USER root
CMD ["python", "-m", "app"]
"""


def parse(tmp_path: Path, content: str | bytes, name: str = "Dockerfile") -> PolicyInput:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    [policy_input] = parse_dockerfile(DOCKERFILE_KIND, path)
    return policy_input


def parse_error(tmp_path: Path, content: str | bytes) -> str:
    with pytest.raises(InputError) as caught:
        parse(tmp_path, content)
    return str(caught.value)


def line_of(content: str, text: str) -> int:
    return content.splitlines().index(text) + 1


def test_multi_stage_build_with_arg_substitution(tmp_path: Path) -> None:
    policy_input = parse(tmp_path, MULTI_STAGE)
    document = policy_input.document
    assert policy_input.kind == "dockerfile" and policy_input.target.endswith("Dockerfile")
    assert document["directives"] == {"syntax": "docker/dockerfile:1"}
    assert document["args"] == {
        "REGISTRY": "myregistry.azurecr.io",
        "PY_VERSION": "3.11",
        "VARIANT": None,
    }
    build, test, final = document["stages"]
    assert document["final_stage"] == 2
    assert build["name"] == "build"
    assert build["from"] == {
        "raw": "${REGISTRY}/base/python:${PY_VERSION}-slim",
        "image": "myregistry.azurecr.io/base/python:3.11-slim",
        "registry": "myregistry.azurecr.io",
        "repository": "base/python",
        "tag": "3.11-slim",
        "digest": None,
        "scratch": False,
        "platform": "$BUILDPLATFORM",
        "stage": None,
        "unresolved": [],
    }
    assert test["from"]["stage"] == 0 and test["from"]["registry"] is None
    assert final["from"]["image"].startswith("python:3.12-slim@sha256:0123")
    assert final["from"]["repository"] == "library/python"
    assert final["from"]["registry"] == "docker.io"
    assert final["from"]["digest"] == "sha256:" + "0123456789abcdef" * 4
    assert final["from"]["tag"] == "3.12-slim"


def test_users_and_their_lines(tmp_path: Path) -> None:
    policy_input = parse(tmp_path, MULTI_STAGE)
    build, test, final = policy_input.document["stages"]
    assert build["user"] == "builder"
    # A stage built on an earlier stage inherits its user, and points at that USER line.
    assert test["user"] == "builder"
    assert policy_input.locate(["stages", 1, "user"]) == line_of(MULTI_STAGE, "USER builder")
    assert final["user"] == "root"
    assert policy_input.locate(["stages", 2, "user"]) == line_of(MULTI_STAGE, "USER root")


def test_every_instruction_maps_to_its_line(tmp_path: Path) -> None:
    policy_input = parse(tmp_path, MULTI_STAGE)
    final = policy_input.document["stages"][2]
    commands = [i["cmd"] for i in final["instructions"]]
    assert commands == ["FROM", "COPY", "USER", "CMD"]
    copy = final["instructions"][1]
    assert copy["flags"] == {"from": ["build"], "chmod": ["0755"]}
    assert copy["args"] == ["/app", "/app"]
    copy_line = line_of(MULTI_STAGE, "COPY --from=build --chmod=0755 /app /app")
    assert policy_input.locate(["stages", 2, "instructions", 1, "flags", "chmod"]) == copy_line
    assert policy_input.locate(["stages", 2, "instructions", 2, "args", 0]) == copy_line + 1
    assert policy_input.locate(["stages", 2, "from", "image"]) == copy_line - 1
    assert policy_input.locate(["args", "PY_VERSION"]) == 3


def test_continuations_drop_comment_lines(tmp_path: Path) -> None:
    policy_input = parse(tmp_path, MULTI_STAGE)
    run = policy_input.document["stages"][0]["instructions"][1]
    assert run["value"] == "pip install --no-cache-dir     -r requirements.txt"
    assert (run["line"], run["end_line"]) == (6, 8)
    assert policy_input.document["stages"][0]["instructions"][2]["line"] == 9


def test_escape_directive_changes_the_continuation_character(tmp_path: Path) -> None:
    content = (
        "# escape=`\n"
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
        "RUN powershell -Command `\n"
        "\n"
        "    # still the same instruction\n"
        "    Write-Host C:\\path\\\n"
        "USER ContainerAdministrator\n"
    )
    policy_input = parse(tmp_path, content)
    stage = policy_input.document["stages"][0]
    assert policy_input.document["directives"] == {"escape": "`"}
    run, user = stage["instructions"][1:]
    assert run["value"] == "powershell -Command     Write-Host C:\\path\\"
    assert stage["from"]["registry"] == "mcr.microsoft.com"
    assert stage["from"]["repository"] == "windows/servercore"
    assert user["line"] == 7 and stage["user"] == "ContainerAdministrator"


def test_heredocs_in_run_and_copy(tmp_path: Path) -> None:
    content = (
        "FROM alpine:3.20\n"
        "RUN <<EOF\n"
        "set -eu\n"
        "adduser -D app\n"
        "EOF\n"
        'COPY <<-"CONF" /etc/app.conf\n'
        "\tlisten=0.0.0.0\n"
        "\tCONF\n"
        "RUN echo '<<NOT_A_HEREDOC' && cat <<< here-string\n"
        "USER app\n"
    )
    policy_input = parse(tmp_path, content)
    _, run, copy, echo, user = policy_input.document["stages"][0]["instructions"]
    assert run["heredocs"] == [
        {"name": "EOF", "content": "set -eu\nadduser -D app\n", "strip_tabs": False, "line": 3}
    ]
    assert (run["line"], run["end_line"]) == (2, 5)
    assert copy["heredocs"][0]["content"] == "listen=0.0.0.0\n"
    assert copy["heredocs"][0]["strip_tabs"] is True
    assert copy["args"] == ["<<-CONF", "/etc/app.conf"]
    assert echo["heredocs"] == [] and echo["line"] == 9
    assert user["line"] == 10
    where = ["stages", 0, "instructions", 2, "heredocs", 0, "content"]
    assert policy_input.locate(where) == 7


def test_two_heredocs_on_one_instruction(tmp_path: Path) -> None:
    content = "FROM alpine\nRUN <<A cat - && sh <<B\none\nA\ntwo\nB\nUSER 1000\n"
    policy_input = parse(tmp_path, content)
    run = policy_input.document["stages"][0]["instructions"][1]
    assert [(h["name"], h["content"], h["line"]) for h in run["heredocs"]] == [
        ("A", "one\n", 3),
        ("B", "two\n", 5),
    ]
    assert policy_input.document["stages"][0]["instructions"][2]["line"] == 7


def test_exec_form_and_shell_form(tmp_path: Path) -> None:
    content = (
        "FROM alpine\n"
        'ENTRYPOINT ["/bin/app", "--port", "8080"]\n'
        "CMD /bin/app --port 8080\n"
        "CMD [not json]\n"
        'RUN --mount=type=secret,id=token --mount=type=cache,target=/c --network=host ["sh", "-c", "x"]\n'
    )
    instructions = parse(tmp_path, content).document["stages"][0]["instructions"]
    entrypoint, cmd, broken, run = instructions[1:]
    assert entrypoint["json_form"] is True
    assert entrypoint["args"] == ["/bin/app", "--port", "8080"]
    assert cmd["json_form"] is False and cmd["args"] == ["/bin/app --port 8080"]
    assert broken["json_form"] is False and broken["args"] == ["[not json]"]
    assert run["flags"] == {
        "mount": ["type=secret,id=token", "type=cache,target=/c"],
        "network": ["host"],
    }
    assert run["json_form"] is True and run["args"] == ["sh", "-c", "x"]


def test_variable_forms_in_from(tmp_path: Path) -> None:
    content = (
        "ARG EMPTY=\n"
        "ARG TAG=1.0\n"
        "ARG IMAGE=app:$TAG\n"
        "FROM ${EMPTY:-alpine}\n"
        "FROM ${EMPTY-alpine}x\n"
        "FROM reg.local:5000/${IMAGE}\n"
        "FROM ${MISSING}busybox${TAG:+-tagged}\n"
        "FROM localhost/app\\$TAG\n"
    )
    stages = parse(tmp_path, content).document["stages"]
    froms = [stage["from"] for stage in stages]
    assert [f["image"] for f in froms] == [
        "alpine",
        "x",
        "reg.local:5000/app:1.0",
        "busybox-tagged",
        "localhost/app$TAG",
    ]
    assert froms[2]["registry"] == "reg.local:5000" and froms[2]["repository"] == "app"
    assert froms[3]["unresolved"] == ["MISSING"]
    assert froms[4]["registry"] == "localhost"


def test_scratch_and_lowercase_instructions(tmp_path: Path) -> None:
    content = "from scratch\ncopy app /app\nuser 65534\n"
    policy_input = parse(tmp_path, content)
    stage = policy_input.document["stages"][0]
    assert stage["from"]["scratch"] is True and stage["user"] == "65534"
    assert [i["cmd"] for i in stage["instructions"]] == ["FROM", "COPY", "USER"]


def test_crlf_line_endings_keep_line_numbers(tmp_path: Path) -> None:
    policy_input = parse(tmp_path, b"FROM alpine\r\nRUN a \\\r\n  b\r\nUSER root\r\n")
    stage = policy_input.document["stages"][0]
    assert stage["instructions"][1]["value"] == "a   b"
    assert policy_input.locate(["stages", 0, "user"]) == 4


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("FROM alpine\nFROOM x\n", "Dockerfile:2: unknown instruction 'FROOM'"),
        ("RUN echo hi\nFROM alpine\n", "Dockerfile:1: RUN before the first FROM"),
        ("# only a comment\n", "Dockerfile:1: no FROM instruction"),
        ("FROM alpine\nRUN <<EOF\necho\n", "Dockerfile:2: heredoc <<EOF is never closed"),
        ("FROM a b c d\n", "Dockerfile:1: FROM takes an image"),
        ("# escape=!\nFROM alpine\n", "Dockerfile:1: escape directive must be"),
    ],
)
def test_malformed_dockerfiles_name_the_line(tmp_path: Path, content: str, expected: str) -> None:
    assert expected in parse_error(tmp_path, content)


def test_hostile_files_are_refused(tmp_path: Path) -> None:
    assert "binary content" in parse_error(tmp_path, bytes(range(256)))
    huge = "FROM alpine\n" + "RUN true\n" * (6 * 1024 * 1024)
    assert "larger than the" in parse_error(tmp_path, huge)


def test_matches_the_buildkit_parser(tmp_path: Path) -> None:
    """Where the official parser (PyPI ``dockerfile``) is installed, lines and forms agree."""
    official = pytest.importorskip("dockerfile", reason="the official parser is not installed")
    content = MULTI_STAGE + (
        "RUN <<EOF\nset -e\nEOF\nCOPY --link <<A <<B /dst/\nx\nA\ny\nB\n"
        "ENV A=1 \\\n  B=2\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\n"
    )
    ours = [
        instruction
        for stage in parse(tmp_path, content).document["stages"]
        for instruction in stage["instructions"]
    ]
    theirs = [c for c in official.parse_string(content) if c.cmd.upper() != "ARG"]
    assert [(i["cmd"], i["line"], i["end_line"], i["json_form"]) for i in ours] == [
        (c.cmd.upper(), c.start_line, c.end_line, c.json) for c in theirs
    ]
    assert [[h["content"] for h in i["heredocs"]] for i in ours] == [
        [h.content for h in c.heredocs] for c in theirs
    ]


def test_tabs_separate_words_like_spaces(tmp_path: Path) -> None:
    content = "FROM\talpine\tAS\tbase\nRUN\t--network=none\techo  a\nUSER\troot\n"
    stage = parse(tmp_path, content).document["stages"][0]
    assert stage["name"] == "base" and stage["user"] == "root"
    run = stage["instructions"][1]
    assert run["flags"] == {"network": ["none"]} and run["args"] == ["echo  a"]
