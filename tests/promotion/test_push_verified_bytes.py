"""Regression: push stores exactly the bytes it verified, never what a path points to later.

The attack: after the gate verified a sealed directory, a ciphertext is swapped for a symlink
to the gate's private key (or its bytes are changed); the old copy-by-path uploaded the key.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sealgate.errors import VerificationError
from sealgate.promotion import sealed_model_digest
from sealgate.promotion._service import push

from tests.promotion.conftest import RegistryTarget, Workspace, gate


def _copy(workspace: Workspace, tmp_path: Path) -> Path:
    sealed = tmp_path / "to-push"
    shutil.copytree(workspace.sealed("1.0.0"), sealed)
    return sealed


def _stored_bytes(target: RegistryTarget, digest: str) -> list[bytes]:
    registry = target.open()
    if not registry.has_model(digest):
        return []
    with registry.open_model(digest) as root:
        return [p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()]


def _first_ciphertext(sealed: Path) -> Path:
    return sorted((sealed / "payload").iterdir())[0]


def _swap_for_key_link(workspace: Workspace, sealed: Path) -> None:
    ciphertext = _first_ciphertext(sealed)
    ciphertext.unlink()
    ciphertext.symlink_to(workspace.path("gate.key"))


def _flip_a_byte(_workspace: Workspace, sealed: Path) -> None:
    ciphertext = _first_ciphertext(sealed)
    data = bytearray(ciphertext.read_bytes())
    data[len(data) // 2] ^= 0x01
    ciphertext.write_bytes(bytes(data))


def _swap_payload_dir_for_link(workspace: Workspace, sealed: Path) -> None:
    elsewhere = sealed.parent / "elsewhere"
    (sealed / "payload").rename(elsewhere)
    for entry in elsewhere.iterdir():
        entry.unlink()
        entry.symlink_to(workspace.path("gate.key"))
    (sealed / "payload").symlink_to(elsewhere, target_is_directory=True)


def _swap_signature_for_key_link(workspace: Workspace, sealed: Path) -> None:
    (sealed / "model.sig").unlink()
    (sealed / "model.sig").symlink_to(workspace.path("gate.key"))


@pytest.mark.parametrize(
    "swap",
    [_swap_for_key_link, _flip_a_byte, _swap_payload_dir_for_link, _swap_signature_for_key_link],
    ids=["ciphertext-symlink", "ciphertext-bytes", "payload-dir-symlink", "signature-symlink"],
)
def test_a_file_swapped_after_verification_is_not_stored(
    workspace: Workspace,
    registry_target: RegistryTarget,
    tmp_path: Path,
    swap: Callable[[Workspace, Path], None],
) -> None:
    sealed = _copy(workspace, tmp_path)
    digest = sealed_model_digest(sealed)
    context = gate(workspace, registry_target)

    with pytest.raises(VerificationError, match=r"changed after verification|without following"):
        push(context, sealed, "alice", before_commit=lambda: swap(workspace, sealed))

    key = workspace.path("gate.key").read_bytes()
    stored = _stored_bytes(registry_target, digest)
    assert all(key not in content for content in stored)
    assert not target_has_model(registry_target, digest)
    assert registry_target.open().current("dev", "fraud-detector") is None


def target_has_model(target: RegistryTarget, digest: str) -> bool:
    return target.open().has_model(digest)


def test_a_header_swapped_after_verification_is_not_stored(
    workspace: Workspace, registry_target: RegistryTarget, tmp_path: Path
) -> None:
    sealed = _copy(workspace, tmp_path)
    digest = sealed_model_digest(sealed)
    context = gate(workspace, registry_target)

    def swap() -> None:
        shutil.copy(workspace.sealed("1.1.0") / "seal.json", sealed / "seal.json")

    with pytest.raises(VerificationError, match="not the verified one"):
        push(context, sealed, "alice", before_commit=swap)
    assert not target_has_model(registry_target, digest)


def test_push_stores_only_the_files_the_seal_names(
    workspace: Workspace, registry_target: RegistryTarget, tmp_path: Path
) -> None:
    sealed = _copy(workspace, tmp_path)
    digest = sealed_model_digest(sealed)
    context = gate(workspace, registry_target)

    def plant() -> None:
        (sealed / "payload" / "zz-extra.enc").symlink_to(workspace.path("gate.key"))

    result = push(context, sealed, "alice", before_commit=plant)

    assert result.allowed
    registry = registry_target.open()
    with registry.open_model(digest) as root:
        stored = {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }
    original = workspace.sealed("1.0.0")
    expected = {
        p.relative_to(original).as_posix(): p.read_bytes()
        for p in original.rglob("*")
        if p.is_file()
    }
    assert stored == expected
