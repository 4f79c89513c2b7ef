"""How files are named in messages and reports: relative to the working directory."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path) -> str:
    """POSIX path relative to the current directory when inside it, else absolute.

    Reports run from the repository root, so this is the repository-relative path that
    SARIF, JUnit and GitHub annotations need.
    """
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
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
