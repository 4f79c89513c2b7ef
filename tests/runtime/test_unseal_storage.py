"""`sealgate unseal` on file systems that refuse the write: one line naming the destination,
exit code 2, and nothing left behind (no partial directory, so no plaintext).

Real file systems produce each error: a 1 MiB tmpfs (ENOSPC, both before the key is
released and in the middle of decrypting), a read-only tmpfs (EROFS), and a tmpfs owned by
another user for a process that permission bits apply to (EACCES).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sealgate.sealing import (
    SealOptions,
    generate_recipient_key,
    generate_signing_key,
    load_signing_private_key,
    parse_recipient,
    seal_model,
)

from tests.conftest import Run, run_sealgate
from tests.filesystems import NOBODY, remount_read_only, run_without_override, tmpfs

PAGE = 4096
ONE_MIB = 1024 * 1024


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    generate_signing_key(directory / "signer")
    generate_recipient_key(directory / "rcpt")
    return directory


def _sealed(root: Path, keys: Path, sizes: dict[str, int]) -> Path:
    rng = random.Random(5)
    model = root / "model"
    for name, size in sizes.items():
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_bytes(rng.randbytes(size))
    out = root / "sealed"
    seal_model(
        model,
        out,
        name="demo",
        version="1.0",
        signing_key=load_signing_private_key(keys / "signer.key"),
        recipients=[parse_recipient(f"local:{keys / 'rcpt.pub'}")],
        options=SealOptions(chunk_size=64 * 1024, workers=2),
    )
    return out


def _args(sealed: Path, keys: Path, into: Path) -> tuple[str, ...]:
    return (
        "unseal", str(sealed),
        "--identity", f"local:{keys / 'rcpt.key'}",
        "--trust", str(keys / "signer.pub"),
        "--into", str(into),
    )  # fmt: skip


def _unseal(sealed: Path, keys: Path, into: Path) -> Run:
    return run_sealgate(*_args(sealed, keys, into), cwd=sealed.parent)


def _assert_nothing_left(mount: Path) -> None:
    assert list(mount.iterdir()) == []  # no destination, no partial sibling: no plaintext


def test_a_model_larger_than_the_free_space_is_refused_before_any_key_is_released(
    tmp_path: Path, keys: Path
) -> None:
    sealed = _sealed(tmp_path, keys, {"weights.bin": 2 * ONE_MIB})
    with tmpfs(tmp_path / "models") as mount:
        run = _unseal(sealed, keys, mount / "current")
        assert run.code == 2, run.stderr
        assert run.stderr.strip() == (
            f"sealgate: error: unseal: {mount / 'current'}: the model needs {2 * ONE_MIB} "
            f"bytes but {mount} has {ONE_MIB} free; nothing was unsealed (no plaintext remains)"
        )
        _assert_nothing_left(mount)


def test_a_disk_that_fills_up_while_decrypting_leaves_no_plaintext(
    tmp_path: Path, keys: Path
) -> None:
    # Exactly 1 MiB of plaintext passes the free-space check, but the two files need one
    # page more than the file system has once rounded up to whole pages: ENOSPC mid-write.
    sizes = {"a.bin": ONE_MIB // 2 + 1, "sub/b.bin": ONE_MIB // 2 - 1}
    assert sum(sizes.values()) == ONE_MIB
    assert sum(-(-s // PAGE) for s in sizes.values()) > ONE_MIB // PAGE
    sealed = _sealed(tmp_path, keys, sizes)
    with tmpfs(tmp_path / "models") as mount:
        run = _unseal(sealed, keys, mount / "current")
        assert run.code == 2, run.stderr
        assert run.stderr.strip() == (
            f"sealgate: error: unseal: {mount / 'current'}: no space left on device in "
            f"{mount}; nothing was unsealed (no plaintext remains)"
        )
        assert "Traceback" not in run.stderr
        _assert_nothing_left(mount)
        # The same model unseals once the space is there: the error was the disk's.
    with tmpfs(tmp_path / "bigger", "2m") as mount:
        assert _unseal(sealed, keys, mount / "current").code == 0


def test_a_read_only_destination_is_refused_before_any_work(tmp_path: Path, keys: Path) -> None:
    sealed = _sealed(tmp_path, keys, {"weights.bin": 5000})
    with tmpfs(tmp_path / "models") as mount:
        remount_read_only(mount)
        run = _unseal(sealed, keys, mount / "current")
        assert run.code == 2, run.stderr
        assert run.stderr.strip() == (
            f"sealgate: error: unseal: {mount / 'current'}: {mount} is read-only; "
            "nothing was unsealed (no plaintext remains)"
        )
        _assert_nothing_left(mount)


def test_a_memory_backed_parent_this_user_cannot_write_is_an_input_error_naming_it(
    tmp_path: Path, keys: Path
) -> None:
    sealed = _sealed(tmp_path, keys, {"weights.bin": 5000})
    with tmpfs(tmp_path / "models", options=f"mode=0755,uid={NOBODY},gid={NOBODY}") as mount:
        run = run_without_override(*_args(sealed, keys, mount / "current"), cwd=tmp_path)
        assert run.code == 2, run.stderr
        assert run.stderr.strip() == (
            f"sealgate: error: unseal: {mount / 'current'}: {mount} is not writable by this "
            "user (uid 0); nothing was unsealed (no plaintext remains)"
        )
        _assert_nothing_left(mount)


def test_a_failure_after_publication_does_not_claim_nothing_was_unsealed(
    tmp_path: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file system here fails the parent's fsync after the rename, so the call is made to:
    the message must then say the model is in place, not that no plaintext remains."""
    import errno
    import os

    from sealgate.errors import InputError
    from sealgate.runtime import unseal_model
    from sealgate.sealing import _atomic, load_trust, parse_identity

    sealed = _sealed(tmp_path, keys, {"weights.bin": PAGE})
    parent = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path
    into = Path(os.path.realpath(parent)) / f"unsealed-{os.getpid()}-{tmp_path.name}"
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.samestat(os.fstat(fd), into.parent.stat()) and into.exists():
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(_atomic.os, "fsync", fsync)
    try:
        with pytest.raises(InputError) as refused:
            unseal_model(
                sealed,
                into,
                identities=[parse_identity(f"local:{keys / 'rcpt.key'}")],
                trust=load_trust(keys / "signer.pub"),
                allow_disk=parent == tmp_path,
            )
        assert "was unsealed there" in str(refused.value)
        assert "no plaintext remains" not in str(refused.value)
        assert [p.name for p in into.iterdir()] == ["weights.bin"]
    finally:
        if into.exists():
            for child in into.iterdir():
                child.unlink()
            into.rmdir()
