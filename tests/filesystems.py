"""Real file systems that refuse writes: a small tmpfs (ENOSPC), a read-only one (EROFS), and
a process without root's permission override (EACCES).

Root bypasses permission bits, and the shared interpreter lives under a 0700 home that an
unprivileged user cannot execute, so EACCES is produced by running the command as root with
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER removed from its capability bounding set
(``setpriv``): the kernel then applies the permission bits to it like to any other user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Run

NOBODY = 65534
WITHOUT_OVERRIDE = ("--bounding-set=-dac_override,-dac_read_search,-fowner",)


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "1m", *, options: str = "") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (created), unmounted afterwards."""
    require_root()
    path.mkdir(parents=True, exist_ok=True)
    mount_options = f"size={size}" + (f",{options}" if options else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", mount_options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system is full; return it."""
    filler = directory / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as handle:
        while True:
            handle.write(b"\0" * 4096)
    return filler


def run_without_override(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """`sealgate ARGS` as root that permission bits apply to (see the module docstring)."""
    require_root()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    completed = subprocess.run(
        [setpriv, *WITHOUT_OVERRIDE, sys.executable, "-m", "sealgate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def tree(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` with its content (what "unchanged" compares)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }
