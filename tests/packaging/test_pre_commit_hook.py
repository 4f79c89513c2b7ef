"""The pre-commit hook: a valid manifest, a real command with real flags, the engine pinned as in
pyproject.toml, and a file filter that selects exactly the names the gate detects."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.ci.test_ci_templates import parse
from tests.conftest import REPO
from tests.packaging.helpers import PYPROJECT

MANIFEST = REPO / ".pre-commit-hooks.yaml"


def hook() -> dict[str, Any]:
    hooks = yaml.safe_load(MANIFEST.read_text())
    [only] = [h for h in hooks if h["id"] == "sealgate-check"]
    return only


def test_pre_commit_accepts_the_manifest() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_rejects_a_broken_manifest(tmp_path: Any) -> None:
    broken = tmp_path / ".pre-commit-hooks.yaml"
    broken.write_text(yaml.safe_dump([{**hook(), "language": "no-such-language"}]))
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0


def test_the_entry_is_a_real_command_with_real_flags() -> None:
    entry = shlex.split(hook()["entry"])
    assert entry[:2] == ["sealgate", "check"]
    assert "--ignore-unknown" in entry
    # pre-commit appends the changed files.
    context = parse([*entry[1:], "Dockerfile", "deploy/app.yaml"])  # raises on an unknown flag
    assert [str(p) for p in context.params["paths"]] == ["Dockerfile", "deploy/app.yaml"]


def test_the_hook_installs_the_engine_pinned_in_pyproject() -> None:
    spec = hook()
    assert spec["language"] == "python"
    assert spec["pass_filenames"] is True
    assert spec["additional_dependencies"] == PYPROJECT["project"]["optional-dependencies"]["gate"]


@pytest.mark.parametrize(
    "name",
    [
        "Dockerfile",
        "images/model-server/Dockerfile",
        "Dockerfile.gpu",
        "build/Dockerfile-dev",
        "images/app.Dockerfile",
        "app.dockerfile",
        "Containerfile",
        "images/Containerfile.arm64",
        "deploy/app.yaml",
        "deploy/app.yml",
        "edge/deployment.json",
        "Pulumi.prod.yaml",
        "policies/data/waivers.yaml",
    ],
)
def test_the_filter_selects_what_the_gate_detects(name: str) -> None:
    assert re.search(hook()["files"], name)


@pytest.mark.parametrize(
    "name",
    ["README.md", "pipeline/sealgate/cli/_check.py", "Dockerfiles/notes.txt", "Dockerfilex"],
)
def test_the_filter_leaves_out_other_files(name: str) -> None:
    assert not re.search(hook()["files"], name)
