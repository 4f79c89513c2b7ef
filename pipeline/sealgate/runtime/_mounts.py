"""Is a path memory-backed? Read from /proc/self/mountinfo, longest mount-point prefix wins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sealgate.errors import InputError

MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
MOUNTINFO = Path("/proc/self/mountinfo")


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
