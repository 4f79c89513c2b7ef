"""Search the host's file systems for secrets written since a moment (a stamp file).

Every writable mounted file system that holds files is walked on its own device
(``find -xdev``), except the kernel's views (/proc, /sys and the pseudo file systems); a
regular file whose content or inode changed after the stamp is read in full and searched
for each needle.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from sealgate.runtime._mounts import parse_mountinfo

# Pseudo file systems: no file written by a process lands there as data.
NOT_STORAGE = frozenset(
    {
        "proc",
        "sysfs",
        "cgroup",
        "cgroup2",
        "devpts",
        "mqueue",
        "debugfs",
        "tracefs",
        "securityfs",
        "pstore",
        "bpf",
        "configfs",
        "fusectl",
        "binfmt_misc",
        "autofs",
        "nsfs",
    }
)
KERNEL_VIEWS = ("/proc", "/sys")
CHUNK = 1 << 20


def _read_only(line: str) -> bool:
    fields = line.split(" ")
    return len(fields) > 5 and "ro" in fields[5].split(",")


def storage_mount_points(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[str]:
    """Writable mounts that hold files (a read-only mount cannot receive a new file)."""
    points = set()
    for line in mountinfo.read_text().splitlines():
        if _read_only(line):
            continue
        for mount in parse_mountinfo(line):
            in_kernel_view = any(
                mount.mount_point == view or mount.mount_point.startswith(view + "/")
                for view in KERNEL_VIEWS
            )
            if mount.fs_type not in NOT_STORAGE and not in_kernel_view:
                points.add(mount.mount_point)
    return sorted(points)


def changed_since(stamp: Path, mount_points: Iterable[str]) -> set[Path]:
    """Regular files modified (content or inode) after ``stamp``, on each mount's own device."""
    found: set[Path] = set()
    for point in mount_points:
        listing = subprocess.run(
            ["find", point, "-xdev", "-type", "f", "(", "-newer", str(stamp), "-o", "-cnewer",
             str(stamp), ")", "-print0"],
            capture_output=True,
            timeout=120,
            check=False,
        )  # fmt: skip
        found.update(Path(p.decode()) for p in listing.stdout.split(b"\0") if p)
    return found


def _chunks(path: Path, overlap: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        tail = b""
        while block := handle.read(CHUNK):
            yield tail + block
            tail = block[-overlap:] if overlap else b""


def holders(paths: Iterable[Path], needles: Iterable[bytes]) -> dict[bytes, list[Path]]:
    """For each needle, the files that contain it (files that vanished are skipped)."""
    wanted = list(needles)
    overlap = max(len(n) for n in wanted) - 1
    result: dict[bytes, list[Path]] = {needle: [] for needle in wanted}
    for path in sorted(paths):
        try:
            seen = {n for chunk in _chunks(path, overlap) for n in wanted if n in chunk}
        except OSError:
            continue
        for needle in seen:
            result[needle].append(path)
    return result


def sentry_memory_holds(pid: int, needle: bytes, memfd_name: str = "runsc-memory") -> bool:
    """Whether the sandbox process ``pid``'s memory file (gVisor's memfd backing all the
    sandbox's memory, tmpfs included) holds ``needle``; only its data extents are read."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith(f"/memfd:{memfd_name}"):
            return _extents_hold(fd, needle)
    raise FileNotFoundError(f"process {pid} has no /memfd:{memfd_name}")


def _extents_hold(path: Path, needle: bytes) -> bool:
    handle = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(handle).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(handle, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after offset
                return False
            end = os.lseek(handle, start, os.SEEK_HOLE)
            position, tail = start, b""
            while position < end:
                block = os.pread(handle, min(CHUNK, end - position), position)
                if not block:
                    break
                if needle in tail + block:
                    return True
                tail = block[-(len(needle) - 1) :]
                position += len(block)
            offset = end
        return False
    finally:
        os.close(handle)
