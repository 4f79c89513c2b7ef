"""Fixtures for the end-to-end test: the real services the other suites start (Azurite for the
blob registry, swtpm for an edge device) and a memory-backed folder for unsealed models."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.runtime._mounts import require_memory_backed

from tests.keyrelease.conftest import Swtpm, start_swtpm, stop_swtpm
from tests.promotion.conftest import azurite

__all__ = ["azurite", "edge_tpm", "memory_dir"]

SHM = Path("/dev/shm")


@pytest.fixture(scope="module")
def edge_tpm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swtpm]:
    """One edge device's TPM (swtpm, fresh state) for the whole module."""
    device = start_swtpm(tmp_path_factory.mktemp("edge-tpm") / "state")
    try:
        yield device
    finally:
        stop_swtpm(device)


def _make_writable(root: Path) -> None:
    """Unsealed models are published read-only (files 0400, folders 0500)."""
    for folder, _, _ in os.walk(root):
        Path(folder).chmod(0o700)


@pytest.fixture
def memory_dir() -> Iterator[Path]:
    """A fresh folder on tmpfs (/dev/shm), as a pod's memory-backed emptyDir; removed after."""
    root = SHM / f"sealgate-e2e-{secrets.token_hex(6)}"
    try:
        require_memory_backed(root)
    except InputError as exc:
        pytest.fail(f"the end-to-end unseal needs a tmpfs at /dev/shm: {exc}")
    root.mkdir()
    try:
        yield root
    finally:
        _make_writable(root)
        shutil.rmtree(root)
