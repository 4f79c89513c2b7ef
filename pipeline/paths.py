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
