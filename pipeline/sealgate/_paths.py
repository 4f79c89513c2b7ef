"""How files are named in messages and reports: relative to the repository root.

The gate sets the root once per run (``reported_from``); outside a run, paths are shown
relative to the working directory. Either way a path outside the root is shown absolute.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_REPORT_ROOT: ContextVar[Path | None] = ContextVar("sealgate_report_root", default=None)


@contextmanager
def reported_from(root: Path) -> Iterator[None]:
    """Name files relative to ``root`` inside the block (reports, targets, waiver matching)."""
    token = _REPORT_ROOT.set(root.resolve())
    try:
        yield
    finally:
        _REPORT_ROOT.reset(token)


def report_root() -> Path:
    """The folder that paths in messages and reports are relative to."""
    return _REPORT_ROOT.get() or Path.cwd().resolve()


def display_path(path: Path) -> str:
    """POSIX path relative to the report root when inside it, else absolute.

    SARIF, JUnit, GitHub annotations and waiver targets all need this repository-relative
    form, whatever folder the command was started from.
    """
    resolved = path.resolve()
    try:
        return resolved.relative_to(report_root()).as_posix()
    except ValueError:
        return resolved.as_posix()


def read_bounded(path: Path, max_bytes: int, what: str) -> bytes:
    """Read a file that must be small (a key, a trust file, a manifest) without trusting its size.

    Reads at most ``max_bytes + 1`` bytes, so a file that grows or lies about its size is caught.
    """
    from sealgate.errors import InputError

    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: {what} is larger than the {max_bytes}-byte limit")
    return data
