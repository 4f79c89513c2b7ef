"""A killed unseal leaves no complete-looking model and no plaintext outside its temporary."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sealing.conftest import leftovers, read_tree, seal_with_library

FILE_SIZE = 12 * 1024 * 1024


@pytest.fixture(scope="module")
def big_sealed(tmp_path_factory: pytest.TempPathFactory, keyset) -> tuple[Path, dict[str, bytes]]:
    base = tmp_path_factory.mktemp("big")
    model = base / "model"
    (model / "shards").mkdir(parents=True)
    files = {f"shards/part-{i}.bin": os.urandom(FILE_SIZE) for i in range(4)}
    for relative, content in files.items():
        (model / relative).write_bytes(content)
    # Small chunks slow the unseal down enough to kill it reliably in the middle.
    seal_with_library(model, base / "sealed", keyset, chunk_size=4096)
    return base / "sealed", files


def _unseal(sealed: Path, destination: Path, keyset) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sealgate",
            "unseal",
            str(sealed),
            "--identity",
            f"local:{keyset.path('rcpt.key')}",
            "--trust",
            str(keyset.path("signer.pub")),
            "--into",
            str(destination),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _partial_with_plaintext(destination: Path) -> bool:
    return any(any(p.is_file() for p in partial.rglob("*")) for partial in leftovers(destination))


def test_sigkill_mid_unseal_then_rerun_cleans_up(big_sealed, keyset, shm_dir: Path) -> None:
    sealed, files = big_sealed
    destination = shm_dir / "model"
    rng = random.Random()
    killed_mid_write = 0
    for _ in range(3):
        process = _unseal(sealed, destination, keyset)
        deadline = time.monotonic() + 60
        while not _partial_with_plaintext(destination) and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.05))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_write += 1
        process.communicate()  # reaps it and closes its pipe
        if process.returncode == 0:  # finished before the kill landed; start over
            for root, dirs, _ in os.walk(destination):
                for name in dirs:
                    Path(root, name).chmod(0o700)
            destination.chmod(0o700)
            shutil.rmtree(destination)
            continue
        assert process.returncode == -signal.SIGKILL
        # Nothing that looks like a model, and nothing besides the locked-out temporary.
        assert not destination.exists()
        assert all(p in leftovers(destination) for p in shm_dir.iterdir())
    assert killed_mid_write >= 1
    assert leftovers(destination)

    rerun = _unseal(sealed, destination, keyset)
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert leftovers(destination) == []
    assert [p.name for p in shm_dir.iterdir()] == ["model"]
    assert read_tree(destination) == files


def test_a_live_unseal_keeps_its_temporary(big_sealed, keyset, shm_dir: Path) -> None:
    """Cleanup removes only temporaries whose owner died, never one still being written."""
    from sealgate.sealing._atomic import remove_stale_partials

    sealed, _ = big_sealed
    destination = shm_dir / "model"
    process = _unseal(sealed, destination, keyset)
    try:
        deadline = time.monotonic() + 60
        while not _partial_with_plaintext(destination):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        assert remove_stale_partials(destination) == []
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()  # reaps it and closes its pipe
    assert len(remove_stale_partials(destination)) == 1
    assert list(shm_dir.iterdir()) == []
