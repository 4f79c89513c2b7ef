"""Helpers of the packaging tests: the project's metadata, pip with its cache, the working tree."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION: str = PYPROJECT["project"]["version"]

# What pip prints when it cannot reach the package index at all (not: a package is missing).
_UNREACHABLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
)


def pip(
    *args: str, python: Path | str = sys.executable, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """pip of ``python``, with its cache, a short network timeout and few retries."""
    return subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "--disable-pip-version-check",
            "--timeout",
            "30",
            "--retries",
            "2",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def skip_if_index_unreachable(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    if result.returncode != 0 and any(marker in output for marker in _UNREACHABLE):
        last = output.strip().splitlines()[-1] if output.strip() else ""
        pytest.skip(f"the package index cannot be reached: {last}")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without anything that points Python at this checkout or its venv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP"}
    }
    return {**env, **(extra or {})}


def working_tree_files(repo: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored paths that exist (what a commit would hold)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.decode()
    names = (name for name in listed.split("\0") if name)
    return sorted({name for name in names if (repo / name).is_symlink() or (repo / name).exists()})
