"""Fixtures for sealing tests: real keys, a multi-file model, tmpfs destinations."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sealgate.sealing import (
    SealOptions,
    generate_recipient_key,
    generate_signing_key,
    load_signing_private_key,
    load_trust,
    parse_identity,
    parse_recipient,
    seal_model,
)
from sealgate.sealing._atomic import partial_prefix

SHM = Path("/dev/shm")
SMALL_CHUNK = 64


@dataclass(frozen=True)
class KeySet:
    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / name


@pytest.fixture(scope="session")
def keyset(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    """Two signers and two recipients, made once per session."""
    directory = tmp_path_factory.mktemp("keys")
    generate_signing_key(directory / "signer")
    generate_signing_key(directory / "other-signer")
    generate_recipient_key(directory / "rcpt")
    generate_recipient_key(directory / "other-rcpt")
    return KeySet(directory)


def write_model(root: Path, seed: int = 7) -> dict[str, bytes]:
    """A small model with subdirectories, an empty file and files that span many chunks."""
    rng = random.Random(seed)
    files = {
        "config.json": b'{"architecture": "demo"}\n',
        "weights/model-00001-of-00002.safetensors": rng.randbytes(5000),
        "weights/model-00002-of-00002.safetensors": rng.randbytes(777),
        "tokenizer/vocab.txt": rng.randbytes(130),
        "tokenizer/nested/empty.bin": b"",
    }
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return files


@pytest.fixture
def model(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "model"
    root.mkdir()
    return root, write_model(root)


def seal_with_library(
    model_dir: Path,
    out: Path,
    keyset: KeySet,
    *,
    name: str = "demo",
    version: str = "1.0",
    chunk_size: int = SMALL_CHUNK,
    recipients: tuple[str, ...] = ("rcpt",),
) -> None:
    seal_model(
        model_dir,
        out,
        name=name,
        version=version,
        signing_key=load_signing_private_key(keyset.path("signer.key")),
        recipients=[parse_recipient(f"local:{keyset.path(r + '.pub')}") for r in recipients],
        options=SealOptions(chunk_size=chunk_size, workers=2),
    )


@pytest.fixture
def sealed(model: tuple[Path, dict[str, bytes]], keyset: KeySet, tmp_path: Path) -> Path:
    out = tmp_path / "sealed"
    seal_with_library(model[0], out, keyset)
    return out


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    """A private directory on tmpfs, removed afterwards whatever modes were left inside."""
    directory = SHM / f"sealgate-test-{secrets.token_hex(6)}"
    directory.mkdir(mode=0o700)
    yield directory
    for root, dirs, _files in os.walk(directory):
        for name in dirs:
            Path(root, name).chmod(0o700)
    shutil.rmtree(directory)


@pytest.fixture
def trust(keyset: KeySet):
    return load_trust(keyset.path("signer.pub"))


@pytest.fixture
def identity(keyset: KeySet):
    return parse_identity(f"local:{keyset.path('rcpt.key')}")


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def leftovers(destination: Path) -> list[Path]:
    return sorted(destination.parent.glob(f"{partial_prefix(destination)}*"))


@pytest.fixture
def tree() -> Callable[[Path], dict[str, bytes]]:
    return read_tree


def _source_root() -> dict[str, str]:
    """The sealgate under test when PYTHONPATH selects it (a worktree over an installed one)."""
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`sealgate ARGS` in a fresh process with a minimal environment, as CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sealgate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "CI": "true", **_source_root()},
    )
