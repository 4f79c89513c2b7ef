"""The CI templates call real commands with real flags, and their steps fit together."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import pytest
import yaml
from sealgate.cli import cli

from tests.conftest import REPO

GITHUB = REPO / ".github" / "workflows" / "sealgate.yml"
AZURE = REPO / "azure-pipelines.yml"


def scripts(path: Path) -> list[str]:
    document = yaml.safe_load(path.read_text())
    if path == GITHUB:
        return [
            step["run"]
            for job in document["jobs"].values()
            for step in job["steps"]
            if "run" in step
        ]
    return [step["script"] for job in document["jobs"] for step in job["steps"] if "script" in step]


def sealgate_invocations(path: Path) -> list[list[str]]:
    invocations = []
    for script in scripts(path):
        for line in script.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0] == "sealgate":
                    invocations.append(words[1:])
    return invocations


def parse(args: list[str]) -> click.Context:
    """Resolve the command and parse its options exactly as the CLI would, without running it."""
    command: click.Command = cli
    name = "sealgate"
    rest = list(args)
    while isinstance(command, click.Group):
        name = rest.pop(0)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"no command {name!r} in {args}"
        command = sub
    return command.make_context(name, rest)


@pytest.mark.parametrize("template", [GITHUB, AZURE], ids=["github-actions", "azure-pipelines"])
def test_every_sealgate_call_parses(template: Path) -> None:
    invocations = sealgate_invocations(template)
    assert {args[0] for args in invocations} >= {"policy", "check"}
    for args in invocations:
        parse(args)  # raises on an unknown command, flag or choice


def test_a_misspelt_flag_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        parse(["check", "--formats", "sarif"])


def test_github_uploads_the_sarif_the_gate_writes() -> None:
    [check] = [args for args in sealgate_invocations(GITHUB) if args[0] == "check"]
    context = parse(check)
    outputs = dict(
        zip(context.params["formats"], map(str, context.params["outputs"]), strict=False)
    )
    steps = yaml.safe_load(GITHUB.read_text())["jobs"]["gate"]["steps"]
    upload = next(
        s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif")
    )
    assert upload["with"]["sarif_file"] == outputs["sarif"]
    comment = next(s for s in steps if "gh pr comment" in s.get("run", ""))
    assert f"--body-file {outputs['markdown']}" in comment["run"]
    permissions = yaml.safe_load(GITHUB.read_text())["jobs"]["gate"]["permissions"]
    assert permissions["security-events"] == "write"


def test_azure_publishes_the_junit_the_gate_writes() -> None:
    [check] = [args for args in sealgate_invocations(AZURE) if args[0] == "check"]
    context = parse(check)
    outputs = dict(
        zip(context.params["formats"], map(str, context.params["outputs"]), strict=False)
    )
    steps = yaml.safe_load(AZURE.read_text())["jobs"][0]["steps"]
    publish = next(s for s in steps if s.get("task") == "PublishTestResults@2")
    assert publish["inputs"]["testResultsFiles"] == outputs["junit"]
    assert publish["inputs"]["testResultsFormat"] == "JUnit"
