"""Regression: SIGTERM during unseal cleans up as SIGINT does.

The attack (or just a pod eviction): SIGTERM in the middle of an unseal killed the process at
once and left tens of MB of plaintext in the temporary sibling of the destination.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sealing.conftest import KeySet, leftovers, seal_with_library

FILE_SIZE = 12 * 1024 * 1024


@pytest.fixture(scope="module")
def big_sealed(tmp_path_factory: pytest.TempPathFactory, keyset: KeySet) -> Path:
    base = tmp_path_factory.mktemp("big")
    model = base / "model"
    (model / "shards").mkdir(parents=True)
    for i in range(4):
        (model / "shards" / f"part-{i}.bin").write_bytes(os.urandom(FILE_SIZE))
    # Small chunks slow the unseal down enough to signal it in the middle.
    seal_with_library(model, base / "sealed", keyset, chunk_size=4096)
    return base / "sealed"


def _unseal(sealed: Path, destination: Path, keyset: KeySet) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "sealgate", "unseal", str(sealed),
            "--identity", f"local:{keyset.path('rcpt.key')}",
            "--trust", str(keyset.path("signer.pub")),
            "--into", str(destination),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # A shell without job control starts background commands with SIGINT ignored, and the
        # child would inherit that: the signal under test must reach the unseal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def _plaintext_bytes(destination: Path) -> int:
    return sum(
        p.stat().st_size
        for partial in leftovers(destination)
        for p in partial.rglob("*")
        if p.is_file()
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_unseal_leaves_no_plaintext(
    big_sealed: Path, keyset: KeySet, shm_dir: Path, signum: int
) -> None:
    destination = shm_dir / "model"
    process = _unseal(big_sealed, destination, keyset)
    deadline = time.monotonic() + 60
    while _plaintext_bytes(destination) < 1024 * 1024:
        assert process.poll() is None, "the unseal ended before it could be signalled"
        assert time.monotonic() < deadline
        time.sleep(0.002)

    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 2, stderr
    assert b"sealgate: error: aborted" in stderr and b"Traceback" not in stderr
    assert leftovers(destination) == []
    assert list(shm_dir.iterdir()) == []
