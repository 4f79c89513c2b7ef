"""The streaming AEAD and the memory-backed check, at unit level."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sealgate.errors import InputError, VerificationError
from sealgate.runtime._mounts import mount_for, parse_mountinfo, require_memory_backed
from sealgate.sealing._stream import FileCipher, chunk_count, ciphertext_size

KEY = bytes(range(32))
SEAL = bytes(16)


def _encrypt(cipher: FileCipher, chunks: list[bytes]) -> list[bytes]:
    return [cipher.encrypt_chunk(i, i == len(chunks) - 1, c) for i, c in enumerate(chunks)]


def test_chunk_arithmetic() -> None:
    assert chunk_count(0, 64) == 1 and ciphertext_size(0, 64) == 16
    assert chunk_count(64, 64) == 1 and chunk_count(65, 64) == 2
    assert ciphertext_size(130, 64) == 130 + 3 * 16


def test_round_trip_and_every_misplacement_fails() -> None:
    chunks = [os.urandom(64) for _ in range(3)]
    cipher = FileCipher(KEY, SEAL, 0, "a.bin")
    sealed = _encrypt(cipher, chunks)
    assert [cipher.decrypt_chunk(i, i == 2, c) for i, c in enumerate(sealed)] == chunks
    with pytest.raises(VerificationError, match="chunk 0"):
        cipher.decrypt_chunk(0, False, sealed[1])  # reordered
    with pytest.raises(VerificationError):
        cipher.decrypt_chunk(1, True, sealed[1])  # truncated after chunk 1: not the last chunk
    with pytest.raises(VerificationError):
        cipher.decrypt_chunk(2, False, sealed[2])  # appended chunk after a real last one
    for other in (
        FileCipher(KEY, SEAL, 1, "a.bin"),
        FileCipher(KEY, SEAL, 0, "b.bin"),
        FileCipher(KEY, bytes([1]) * 16, 0, "a.bin"),
        FileCipher(os.urandom(32), SEAL, 0, "a.bin"),
    ):
        with pytest.raises(VerificationError):
            other.decrypt_chunk(0, False, sealed[0])  # another file, seal or data key


MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:25 / /dev/shm rw,nosuid,nodev shared:2 - tmpfs tmpfs rw
31 22 0:26 / /run/models\\040dir rw shared:3 - tmpfs tmpfs rw,size=1g
32 31 8:2 / /run/models\\040dir/disk rw shared:4 - ext4 /dev/sdb rw
33 22 0:27 / /dev/shmx rw shared:5 - ext4 /dev/sdc rw
"""


def test_longest_mount_point_prefix_wins() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mount_for(Path("/dev/shm/a/b"), mounts).fs_type == "tmpfs"
    assert mount_for(Path("/dev/shmx/a"), mounts).fs_type == "ext4"  # not a path prefix
    assert mount_for(Path("/run/models dir/m"), mounts).fs_type == "tmpfs"
    assert mount_for(Path("/run/models dir/disk/m"), mounts).fs_type == "ext4"
    assert mount_for(Path("/srv/m"), mounts).mount_point == "/"


def test_require_memory_backed_reads_the_real_mount_table(tmp_path: Path) -> None:
    assert require_memory_backed(Path("/dev/shm/new-model")).fs_type in {"tmpfs", "ramfs"}
    fake = tmp_path / "mountinfo"
    fake.write_text(MOUNTINFO)
    with pytest.raises(InputError, match="not memory-backed"):
        require_memory_backed(Path("/run/models dir/disk/m"), mountinfo=fake)
    # A symlink from disk into tmpfs is judged by where it resolves.
    link = tmp_path / "link"
    link.symlink_to("/dev/shm")
    assert require_memory_backed(link / "m").mount_point == "/dev/shm"
