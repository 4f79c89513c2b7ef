"""Model-relative paths: validation of names from a header, and a walk that refuses links."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sealgate.errors import InputError, VerificationError

MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255
# Paths that the OpenSSF model-signing verifier ignores at the top of a model, so they are
# never sealed: git metadata, and a detached signature named like the one sealgate writes.
IGNORED_TOP_LEVEL = (".git", ".gitattributes", ".github", ".gitignore", "model.sig")


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a safe, normalized, relative POSIX path; ``None`` if it is."""
    if not path:
        return "empty path"
    if "\x00" in path or "\\" in path:
        return "NUL or backslash in path"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return "control character in path"
    if path.startswith("/"):
        return "absolute path"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "path is not valid UTF-8"
    if len(encoded) > MAX_PATH_BYTES:
        return "path too long"
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return "empty, '.' or '..' path component"
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            return "path component too long"
    return None


def check_header_path(path: object) -> str:
    """A file path read from a sealed header: anything unsafe is tampering."""
    if not isinstance(path, str):
        raise VerificationError("seal header: file path is not a string")
    problem = path_problem(path)
    if problem:
        raise VerificationError(f"seal header: unsafe file path {path!r}: {problem}")
    return path


def check_no_prefix_conflicts(paths: list[str]) -> None:
    """Refuse a set where one path is a directory of another (``a`` and ``a/b``)."""
    names = set(paths)
    if len(names) != len(paths):
        raise VerificationError("seal header: duplicate file path")
    for path in paths:
        parent = PurePosixPath(path).parent
        while str(parent) != ".":
            if str(parent) in names:
                raise VerificationError(f"seal header: {path!r} is inside file {str(parent)!r}")
            parent = parent.parent


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative POSIX path inside the model
    size: int


def walk_model(model_dir: Path) -> list[ModelFile]:
    """Every regular file under ``model_dir``, sorted by path; links and devices are refused."""
    try:
        root_stat = model_dir.lstat()
    except OSError as exc:
        raise InputError(f"{model_dir}: cannot read model directory: {exc.strerror}") from None
    if stat.S_ISLNK(root_stat.st_mode):
        raise InputError(f"{model_dir}: the model directory is a symlink; pass the real path")
    if not stat.S_ISDIR(root_stat.st_mode):
        raise InputError(f"{model_dir}: not a directory")

    files: list[ModelFile] = []
    pending: list[tuple[Path, str]] = [(model_dir, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            raise InputError(f"{directory}: cannot list: {exc.strerror}") from None
        for entry in entries:
            relative = f"{prefix}{entry.name}"
            if not prefix and entry.name in IGNORED_TOP_LEVEL:
                continue
            problem = path_problem(relative)
            if problem:
                raise InputError(f"{model_dir}: refusing file {relative!r}: {problem}")
            entry_stat = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(entry_stat.st_mode):
                raise InputError(f"{model_dir}: refusing symlink {relative!r}")
            if stat.S_ISDIR(entry_stat.st_mode):
                pending.append((Path(entry.path), f"{relative}/"))
            elif stat.S_ISREG(entry_stat.st_mode):
                files.append(ModelFile(relative, entry_stat.st_size))
            else:
                raise InputError(f"{model_dir}: refusing special file {relative!r}")
    if not files:
        raise InputError(f"{model_dir}: the model directory has no files to seal")
    files.sort(key=lambda f: f.path)
    return files


def open_regular_nofollow(path: Path) -> int:
    """Open ``path`` read-only without following a final symlink; it must be a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(0, "not a regular file")
    return fd
