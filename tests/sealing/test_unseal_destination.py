"""Regressions: unseal works in the directory it checked, and cleans up only its own temporaries.

Attacks replayed:
- a symlink swapped into the destination path between the tmpfs check and staging put
  plaintext on disk;
- a planted "stale partial" directory holding a symlink crashed every later unseal into that
  name (and a cleanup that follows links could delete through it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.runtime import UnsealRequest, unseal_model

from tests.conftest import run_sealgate
from tests.sealing.conftest import KeySet, leftovers, read_tree


def _unseal_cli(sealed: Path, into: Path, keyset: KeySet):  # type: ignore[no-untyped-def]
    return run_sealgate(
        "unseal", str(sealed),
        "--identity", f"local:{keyset.path('rcpt.key')}",
        "--trust", str(keyset.path("signer.pub")),
        "--into", str(into),
        cwd=into.parent,
    )  # fmt: skip


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    (victim / "keep" / "file.txt").write_text("precious\n")
    return victim


def test_a_symlink_swapped_in_after_the_tmpfs_check_does_not_redirect_plaintext(
    sealed: Path, model, keyset: KeySet, trust, identity, shm_dir: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    parent = shm_dir / "parent"
    parent.mkdir()
    moved = shm_dir / "parent-moved"

    def swap(_request: UnsealRequest) -> None:
        # After every check, before any plaintext is written.
        parent.rename(moved)
        parent.symlink_to(disk, target_is_directory=True)

    unseal_model(sealed, parent / "model", identities=[identity], trust=trust, authorize=swap)

    assert list(disk.iterdir()) == []
    assert read_tree(moved / "model") == model[1]


def test_a_destination_whose_parent_is_a_symlink_is_refused(
    sealed: Path, keyset: KeySet, trust, identity, shm_dir: Path
) -> None:
    real = shm_dir / "real"
    real.mkdir()
    (shm_dir / "link").symlink_to(real, target_is_directory=True)
    with pytest.raises(InputError, match="is a symlink; pass the real path"):
        unseal_model(sealed, shm_dir / "link" / "model", identities=[identity], trust=trust)
    assert list(real.iterdir()) == []


def test_a_planted_partial_with_a_symlink_is_an_error_naming_it_not_a_crash(
    sealed: Path, keyset: KeySet, shm_dir: Path, tmp_path: Path
) -> None:
    destination = shm_dir / "model"
    victim = _victim(tmp_path)
    planted = shm_dir / ".model.sealgate-partial-0000000000000000"
    planted.mkdir()
    (planted / "evil").symlink_to(victim, target_is_directory=True)

    run = _unseal_cli(sealed, destination, keyset)

    assert run.code == 2, run.stderr
    assert f"{planted}: has the name of a sealgate temporary" in run.stderr
    assert "lock file" in run.stderr and "Traceback" not in run.stderr
    assert (victim / "keep" / "file.txt").read_text() == "precious\n"
    assert (planted / "evil").is_symlink()
    assert not destination.exists()


def test_a_planted_partial_that_is_a_symlink_is_an_error_naming_it(
    sealed: Path, keyset: KeySet, shm_dir: Path, tmp_path: Path
) -> None:
    destination = shm_dir / "model"
    victim = _victim(tmp_path)
    planted = shm_dir / ".model.sealgate-partial-1111111111111111"
    planted.symlink_to(victim, target_is_directory=True)

    run = _unseal_cli(sealed, destination, keyset)

    assert run.code == 2, run.stderr
    assert f"{planted}: has the name of a sealgate temporary" in run.stderr
    assert (victim / "keep" / "file.txt").read_text() == "precious\n"


def test_sealgates_own_stale_partial_is_removed_without_following_links(
    sealed: Path, model, keyset: KeySet, shm_dir: Path, tmp_path: Path
) -> None:
    destination = shm_dir / "model"
    victim = _victim(tmp_path)
    stale = shm_dir / ".model.sealgate-partial-2222222222222222"
    (stale / "weights").mkdir(parents=True)
    (stale / ".sealgate-lock").write_bytes(b"")
    (stale / "weights" / "plain.bin").write_bytes(b"left by a run that died")
    (stale / "weights" / "evil").symlink_to(victim, target_is_directory=True)
    (stale / "weights").chmod(0o500)  # as a run killed while publishing leaves it

    run = _unseal_cli(sealed, destination, keyset)

    assert run.code == 0, run.stderr
    assert leftovers(destination) == []
    assert (victim / "keep" / "file.txt").read_text() == "precious\n"
    assert read_tree(destination) == model[1]


def test_a_partial_of_another_user_is_left_alone(
    sealed: Path, keyset: KeySet, trust, identity, shm_dir: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a directory owned by another user")
    destination = shm_dir / "model"
    foreign = shm_dir / ".model.sealgate-partial-3333333333333333"
    foreign.mkdir()
    (foreign / ".sealgate-lock").write_bytes(b"")
    os.chown(foreign, 65534, 65534)
    with pytest.raises(InputError, match="belongs to another user"):
        unseal_model(sealed, destination, identities=[identity], trust=trust)
    assert (foreign / ".sealgate-lock").exists()
