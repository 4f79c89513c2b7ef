"""RUN scripts split once by the parser into simple commands that policies look up."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.inputs._dockerfile import DOCKERFILE_KIND, parse_dockerfile
from sealgate.inputs._shell_commands import program_name, shell_commands


def words(script: str) -> list[list[str]]:
    return [command["words"] for command in shell_commands(script)]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            "apt-get update > /dev/null && apt-get install -y curl >/dev/null 2>&1",
            [["apt-get", "update"], ["apt-get", "install", "-y", "curl"]],
        ),
        ("echo a &>/dev/null; cat <<'EOF' >> /x", [["echo", "a"], ["cat"]]),
        ("tee x < in 2> err | sort", [["tee", "x"], ["sort"]]),
        (
            "pip install 'uvicorn[standard]==0.30.1' \"a b\" c\\ d",
            [["pip", "install", "uvicorn[standard]==0.30.1", "a b", "c d"]],
        ),
        (
            "# all comment\napt-get install \\\n  curl # trailing\nrm x",
            [
                ["apt-get", "install", "curl"],
                ["rm", "x"],
            ],
        ),
        (
            "x=$(id -u) `date` (cd /a || true)",
            [["x="], ["id", "-u"], ["date"], ["cd", "/a"], ["true"]],
        ),
        ("echo '#not a comment' a#b", [["echo", "#not a comment", "a#b"]]),
        (
            "bash -ec 'apt-get install x && sh -c \"pip install y\"'",
            [
                ["bash", "-ec", 'apt-get install x && sh -c "pip install y"'],
                ["apt-get", "install", "x"],
                ["sh", "-c", "pip install y"],
                ["pip", "install", "y"],
            ],
        ),
    ],
)
def test_scripts_split_into_simple_commands(script: str, expected: list[list[str]]) -> None:
    assert words(script) == expected


@pytest.mark.parametrize(
    ("script", "programs"),
    [
        ("DEBIAN_FRONTEND=noninteractive apt-get install -y x", ["apt-get"]),
        ("/usr/bin/sudo -u app true", ["sudo", "true"]),
        (
            "timeout 60 env -u X A=b /usr/bin/python3.11 -m pip install z",
            ["timeout", "env", "python"],
        ),
        ("find . | xargs -n 1 sudo rm", ["xargs", "sudo", "rm"]),
        ("useradd --groups sudo app", ["useradd"]),
        ("then apt-get install x", ["apt-get"]),
    ],
)
def test_programs_are_the_names_in_command_position(script: str, programs: list[str]) -> None:
    assert shell_commands(script)[-1]["programs"] == programs


@pytest.mark.parametrize(
    ("word", "name"),
    [("/usr/bin/pip3.11", "pip"), ("python3", "python"), ("dnf5", "dnf"), ("apt-get", "apt-get"),
     ("7", "7"), ("sudo=1.9", "sudo=1.9"), ("lib-2", "lib-2")],
)  # fmt: skip
def test_program_names(word: str, name: str) -> None:
    assert program_name(word) == name


def test_shell_in_shell_is_bounded() -> None:
    script = "sh -c " + "'sh -c " * 10 + "true" + "'" * 10
    assert len(shell_commands(script)) == 3


def test_run_instructions_carry_their_commands(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(
        "FROM alpine\n"
        'RUN ["sh", "-c", "apk add curl"]\n'
        "RUN <<EOF\nset -e\n# apk add ignored\napk add \\\n  jq\nEOF\n"
        "CMD echo hi\n"
    )
    [policy_input] = parse_dockerfile(DOCKERFILE_KIND, path)
    exec_run, heredoc_run, cmd = policy_input.document["stages"][0]["instructions"][1:]
    assert [c["words"] for c in exec_run["commands"]] == [
        ["sh", "-c", "apk add curl"],
        ["apk", "add", "curl"],
    ]
    assert [c["words"] for c in heredoc_run["commands"]] == [["set", "-e"], ["apk", "add", "jq"]]
    assert cmd["commands"] == []


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("RUN <<EOF\napt-get install x\nEOF\n", [["apt-get", "install", "x"]]),
        (
            "RUN bash -e <<EOF\napt-get install x\nEOF\n",
            [["bash", "-e"], ["apt-get", "install", "x"]],
        ),
        (
            "RUN cat <<EOF | sh\napt-get install x\nEOF\n",
            [["cat"], ["sh"], ["apt-get", "install", "x"]],
        ),
        (
            "RUN cat <<EOF > /etc/apt/sources.list\ndeb http://deb.debian.org/debian bookworm main\nEOF\n",
            [["cat"]],
        ),
        ("RUN python3 <<EOF\nimport os\nEOF\n", [["python3"]]),
    ],
)
def test_heredoc_bodies_count_where_a_shell_runs_them(
    tmp_path: Path, run: str, expected: list[list[str]]
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine\n" + run)
    [policy_input] = parse_dockerfile(DOCKERFILE_KIND, path)
    commands = policy_input.document["stages"][0]["instructions"][1]["commands"]
    assert [c["words"] for c in commands] == expected
