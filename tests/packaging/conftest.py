"""The distribution as users get it: a wheel built once per session from the working tree, and a
virtualenv outside the repository that installs it from that wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.packaging.helpers import pip, skip_if_index_unreachable, working_tree_files


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of a clean copy of the working tree (no stale build/ or egg-info)."""
    source = tmp_path_factory.mktemp("source")
    for name in working_tree_files(REPO):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target, follow_symlinks=False)
    dist = tmp_path_factory.mktemp("dist")
    # An absolute path: a bare name would be looked up on the index as a project.
    result = pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist), str(source.resolve()))
    skip_if_index_unreachable(result)
    assert result.returncode == 0, result.stderr
    [built] = dist.glob("sealgate-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh virtualenv (outside the repository) with ``<wheel>[gate]``."""
    venv = tmp_path_factory.mktemp("venv") / "sealgate"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    result = pip("install", "--quiet", f"{wheel}[gate]", python=python)
    skip_if_index_unreachable(result)
    assert result.returncode == 0, result.stderr
    return venv / "bin"
