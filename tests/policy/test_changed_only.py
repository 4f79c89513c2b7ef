"""`sealgate check --changed-only BASE` gates only what changed since BASE."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest import PRIVILEGED_POD, REPO, Run

Sealgate = Callable[..., Run]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_only_changed_files_are_checked(tmp_path: Path, sealgate: Sealgate) -> None:
    git(tmp_path, "init", "-q")
    for name in ("old.yaml", "edited.yaml"):
        (tmp_path / name).write_text(PRIVILEGED_POD)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    (tmp_path / "edited.yaml").write_text(PRIVILEGED_POD.replace("model-server", "model-server-2"))
    (tmp_path / "new.yaml").write_text(PRIVILEGED_POD)

    policies = str(REPO / "policies")
    everything = sealgate("check", "--policies", policies, "--format", "json", cwd=tmp_path)
    changed = sealgate(
        "check", "--policies", policies, "--changed-only", "HEAD", "--format", "json", cwd=tmp_path
    )
    assert everything.code == changed.code == 1
    assert {f["file"] for f in json.loads(everything.stdout)["findings"]} == {
        "old.yaml",
        "edited.yaml",
        "new.yaml",
    }
    assert {f["file"] for f in json.loads(changed.stdout)["findings"]} == {
        "edited.yaml",
        "new.yaml",
    }


def test_unknown_base_is_an_input_error(tmp_path: Path, sealgate: Sealgate) -> None:
    git(tmp_path, "init", "-q")
    run = sealgate(
        "check", "--policies", str(REPO / "policies"), "--changed-only", "no-such-ref", cwd=tmp_path
    )
    assert run.code == 2
    assert run.stderr.startswith("sealgate: error: --changed-only no-such-ref:")
