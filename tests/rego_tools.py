"""The Rego command-line tools the tests use (`opa`, `regal`, `gator`), or a skip saying which
is missing. `make deps-go` builds them from their Go modules into the virtualenv's bin."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def find_tool(name: str) -> str | None:
    """``name`` on PATH, else beside this interpreter or in the repository's ``.venv/bin``."""
    found = shutil.which(name)
    if found:
        return found
    for folder in (Path(sys.executable).parent, REPO / ".venv" / "bin"):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def tool(name: str) -> str:
    """The path of a Rego tool (see ``find_tool``), or a skip naming it."""
    found = find_tool(name)
    if found is None:
        pytest.skip(
            f"no `{name}` binary on PATH or in .venv/bin "
            "(`make deps-go` builds it where a Go toolchain exists)"
        )
    return found
