"""Is a directory memory-backed?

Unseal asks ``fstatfs`` about the directory descriptor it then writes through
(``require_memory_backed_at``), so the answer is about exactly that directory. The
mount-table reading (/proc/self/mountinfo, longest mount-point prefix wins) remains for
paths, where a later change of the path is not a concern.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

from sealgate.errors import InputError

MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
MOUNTINFO = Path("/proc/self/mountinfo")
# statfs(2) f_type magic numbers (linux/magic.h).
FILESYSTEM_MAGIC = {
    0x01021994: "tmpfs",
    0x858458F6: "ramfs",
    0xEF53: "ext2/ext3/ext4",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x794C7630: "overlayfs",
    0x6969: "nfs",
    0xFF534D42: "cifs",
    0x65735546: "fuse",
}


class _StatFs(ctypes.Structure):
    # f_type (__fsword_t, a C long on Linux) comes first; the rest is room for the struct.
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 256)]


def filesystem_type(fd: int) -> str:
    """The type of the file system holding the open file ``fd`` (``fstatfs`` f_type)."""
    libc = ctypes.CDLL(None, use_errno=True)
    result = _StatFs()
    if libc.fstatfs(fd, ctypes.byref(result)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    magic = result.f_type & 0xFFFFFFFF
    return FILESYSTEM_MAGIC.get(magic, f"file system type {magic:#x}")


def require_memory_backed_at(parent_fd: int, destination: Path) -> str:
    """Refuse ``destination`` unless the directory ``parent_fd`` is on tmpfs or ramfs."""
    try:
        fs_type = filesystem_type(parent_fd)
    except (OSError, AttributeError) as exc:
        raise InputError(
            f"{destination}: cannot tell whether {destination.parent} is memory-backed ({exc})"
        ) from None
    if fs_type not in MEMORY_FILESYSTEMS:
        raise InputError(
            f"{destination}: would be on {fs_type} ({destination.parent}), not memory-backed "
            "storage; use a tmpfs path or pass --allow-disk"
        )
    return fs_type


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fs_type: str


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo`` octal."""
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit() and len(field[i + 1 : i + 4]) == 3:
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            separator = fields.index("-")
            mounts.append(Mount(_unescape(fields[4]), fields[separator + 1]))
        except (ValueError, IndexError):
            continue
    return mounts


def _is_under(path: str, mount_point: str) -> bool:
    return mount_point == "/" or path == mount_point or path.startswith(mount_point + "/")


def mount_for(path: Path, mounts: list[Mount]) -> Mount:
    """The mount holding ``path``; the last of equal mount points is the one on top."""
    resolved = str(path.resolve())
    best: Mount | None = None
    for mount in mounts:
        if _is_under(resolved, mount.mount_point) and (
            best is None or len(mount.mount_point) >= len(best.mount_point)
        ):
            best = mount
    if best is None:
        raise InputError(f"{path}: no mount found for this path")
    return best


def require_memory_backed(destination: Path, mountinfo: Path = MOUNTINFO) -> Mount:
    """Refuse ``destination`` unless the directory it is created in is on tmpfs or ramfs."""
    try:
        text = mountinfo.read_text()
    except OSError as exc:
        raise InputError(
            f"cannot read {mountinfo} to check the destination: {exc.strerror}"
        ) from None
    mount = mount_for(destination.parent, parse_mountinfo(text))
    if mount.fs_type not in MEMORY_FILESYSTEMS:
        raise InputError(
            f"{destination}: would be on {mount.fs_type} ({mount.mount_point}), not memory-backed "
            "storage; use a tmpfs path or pass --allow-disk"
        )
    return mount
