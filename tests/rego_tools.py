"""The Rego command-line tools the tests use (`opa`, `regal`, `gator`), or a skip saying which
is missing. `make deps-go` builds them from their Go modules into the virtualenv's bin."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def tool(name: str) -> str:
    """The path of a Rego tool found on PATH or beside this interpreter, or a skip."""
    beside = Path(sys.executable).parent / name
    found = shutil.which(name) or (str(beside) if beside.is_file() else None)
    if found is None:
        pytest.skip(f"no `{name}` binary on PATH or in {beside.parent} (make deps-go builds it)")
    return found
