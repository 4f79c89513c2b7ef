"""OPA's and Regal's own checks on the policies: `opa check --strict`, `opa fmt`, `regal lint`.

The binaries come from their Go modules (`make deps-go` builds them into the virtualenv's
bin); found on PATH or beside this interpreter. Without them these tests skip, saying so.
"""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO
from tests.rego_tools import tool

POLICIES = REPO / "policies"
REGAL_CONFIG = REPO / ".regal" / "config.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_opa_check_strict_passes() -> None:
    result = run(tool("opa"), "check", "--strict", str(POLICIES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_opa_fmt_lists_nothing() -> None:
    result = run(tool("opa"), "fmt", "--list", str(POLICIES))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"not formatted (opa fmt -w):\n{result.stdout}"


def test_regal_lint_passes() -> None:
    result = run(tool("regal"), "lint", "--config-file", str(REGAL_CONFIG), str(POLICIES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_regal_exception_names_the_engine_limitation() -> None:
    """An `ignore` or a level below error is explained, in the comment above it, by regorus."""
    lines = REGAL_CONFIG.read_text(encoding="utf-8").splitlines()
    exceptions = [
        i
        for i, line in enumerate(lines)
        if re.match(r"^\s*(level:\s*(ignore|warning)|ignore:)\s*$", line)
        or re.match(r"^\s*-\s*\"?(\*\*/)?policies/", line)
    ]
    assert exceptions, "the configuration has no exception to check"
    for index in exceptions:
        if "ignore:" in lines[index] or "level" in lines[index]:
            continue  # the listed files carry the reason
        comment: list[str] = []
        for line in reversed(lines[:index]):
            stripped = line.strip()
            if stripped.startswith("#"):
                comment.append(stripped)
            elif stripped.startswith("- ") or stripped.endswith(":"):
                if comment:
                    break
            else:
                break
        assert any("regorus" in c for c in comment), f"line {index + 1}: {lines[index].strip()}"
