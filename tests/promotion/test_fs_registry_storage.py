"""The filesystem registry on file systems that refuse writes: `push` and `pull` end with one
line naming the registry (or destination) and what was left unchanged, exit code 2.

Real file systems produce each error (see tests/filesystems.py): a full 1 MiB tmpfs, a
read-only remount, and a registry owned by another user for a process that permission bits
apply to.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.filesystems import NOBODY, fill, remount_read_only, run_without_override, tmpfs, tree
from tests.promotion.conftest import MODEL_NAME, RegistryTarget, Workspace, make_cli, snapshot

GATE = ("--trust", "release.pub")


@pytest.fixture
def mount(tmp_path: Path) -> object:
    with tmpfs(tmp_path / "fs") as mounted:
        yield mounted


def _registry(workspace: Workspace, mount: Path) -> tuple[RegistryTarget, Path]:
    """A registry on ``mount`` holding 1.0.0 in dev."""
    root = mount / "registry"
    target = RegistryTarget(f"file://{root}", {})
    pushed = make_cli(workspace, target)("push", "sealed-1.0.0", *GATE)
    assert pushed.code == 0, pushed.stderr
    return target, root


def test_push_into_a_read_only_registry_changes_nothing(workspace: Workspace, mount: Path) -> None:
    target, root = _registry(workspace, mount)
    before, pointers = tree(root), snapshot(target)
    remount_read_only(mount)
    run = make_cli(workspace, target)("push", "sealed-1.1.0", *GATE)
    assert run.code == 2, run.stderr
    assert run.stderr.strip() == (
        f"sealgate: error: push: registry {root}: read-only file system; the registry is unchanged"
    )
    assert tree(root) == before and snapshot(target) == pointers


def test_a_denial_that_cannot_be_recorded_says_so_and_moves_nothing(
    workspace: Workspace, mount: Path
) -> None:
    target, root = _registry(workspace, mount)
    before = tree(root)
    remount_read_only(mount)
    run = make_cli(workspace, target)("push", "sealed-1.2.0-rogue", *GATE)  # denied: signer
    assert run.code == 2, run.stderr
    assert run.stderr.strip() == (
        f"sealgate: error: push: registry {root}: read-only file system; "
        "nothing was recorded and no pointer moved"
    )
    assert tree(root) == before


def test_push_into_a_full_registry_leaves_no_partial_model(
    workspace: Workspace, mount: Path
) -> None:
    target, root = _registry(workspace, mount)
    before, pointers = tree(root), snapshot(target)
    fill(mount)
    run = make_cli(workspace, target)("push", "sealed-1.1.0", *GATE)
    assert run.code == 2, run.stderr
    assert run.stderr.strip() == (
        f"sealgate: error: push: registry {root}: no space left on device; "
        "the registry is unchanged"
    )
    assert tree(root) == before and snapshot(target) == pointers  # no temporary either


def test_push_into_a_registry_this_user_cannot_write_names_the_path(
    workspace: Workspace, mount: Path
) -> None:
    target, root = _registry(workspace, mount)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(root)], check=True)
    before = tree(root)
    run = run_without_override(
        "push", "sealed-1.1.0", *GATE,
        cwd=workspace.root,
        env={
            "SEALGATE_REGISTRY": target.url,
            "SEALGATE_GATE_KEY": str(workspace.path("gate.key")),
            "SEALGATE_REQUESTER": "alice",
            "SEALGATE_REQUESTERS": str(workspace.path("requesters.yaml")),
            "SEALGATE_PRODUCERS": str(workspace.path("producers.yaml")),
        },
    )  # fmt: skip
    assert run.code == 2, run.stderr
    line = run.stderr.strip()
    assert line.startswith(f"sealgate: error: push: registry {root}: permission denied ({root}/")
    assert line.endswith("; the registry is unchanged") or line.endswith(
        "; nothing was recorded and no pointer moved"
    )
    assert tree(root) == before


def test_pull_into_a_full_file_system_leaves_no_partial_copy(
    workspace: Workspace, mount: Path, tmp_path: Path
) -> None:
    target, _ = _registry(workspace, tmp_path)
    fill(mount)
    into = mount / "sealed"
    run = make_cli(workspace, target)(
        "pull", MODEL_NAME, "--stage", "dev", "--gate-pub", "gate.pub", "--into", str(into)
    )
    assert run.code == 2, run.stderr
    assert run.stderr.strip() == (
        f"sealgate: error: pull: {into}: no space left on device; "
        f"nothing was pulled ({into} is absent as before)"
    )
    assert not into.exists()


def test_a_registry_this_user_cannot_read_is_one_line_naming_the_path(
    workspace: Workspace, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        run = run_without_override(
            "status", "--registry", f"file://{locked / 'registry'}", cwd=workspace.root
        )
    finally:
        locked.chmod(0o755)
    assert run.code == 2, run.stderr
    assert run.stderr.strip() == (
        f"sealgate: error: status: {locked / 'registry'}: permission denied"
    )
