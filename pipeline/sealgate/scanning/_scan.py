"""Scan every file of a model directory: its format, and what loading it would run.

Nothing is loaded or executed: pickles are read as opcodes, containers through their
directories with limits checked first, other formats by their headers. Files are opened
without following links (the same walk ``seal`` uses), and each file's identity (device,
inode, size, modification and change times) is kept so a seal can prove it encrypted the
bytes it scanned: the owner of a file can restore its mtime with ``os.utime``, not its ctime.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sealgate.errors import InputError
from sealgate.scanning._archives import scan_pickles_in_zip
from sealgate.scanning._keras import scan_h5, scan_keras
from sealgate.scanning._numpy import MAGIC as NUMPY_MAGIC
from sealgate.scanning._numpy import scan_npy
from sealgate.scanning._onnx import scan_onnx
from sealgate.scanning._opcodes import is_pickle
from sealgate.scanning._pickles import (
    MAX_PICKLE_BYTES,
    SCANNER,
    SCANNER_VERSION,
    scan_legacy_torch,
    scan_pickle_stream,
)
from sealgate.scanning._results import (
    MAX_FINDINGS_PER_FILE,
    FileScan,
    ModelScan,
    ScanFinding,
    finding,
)
from sealgate.scanning._safetensors import scan_safetensors
from sealgate.sealing._paths import ModelFile, open_regular_nofollow, walk_model

RULES = "sealgate.scan/v2"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
# What joblib and gzip.open read through: ``model.pkl.gz`` is a pickle too.
COMPRESSED_SUFFIXES = (".gz", ".z", ".bz2", ".xz", ".lzma", ".lz4")
H5_SUFFIXES = (".h5", ".hdf5")
# A pickle file larger than this is not read, and is reported as not shown to be safe
# (legacy torch files are bounded by their pickles, not their storage bytes).
MAX_PICKLE_FILE = MAX_PICKLE_BYTES
PICKLE_FORMATS = frozenset({"pickle", "joblib"})


def _is_pickle(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _strip_compression(name: str) -> str:
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def detect_format(path: str, head: bytes, data: IO[bytes] | None = None) -> str:
    """The format a loader would read ``path`` as, from its name and first bytes; with
    ``data`` (at its start) a file of no pickle name that walks as a pickle is one."""
    if not head:
        return "empty"  # no loader runs anything from zero bytes (a pickle load fails: EOF)
    name = path.lower()
    is_zip = head.startswith(b"PK\x03\x04")
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith(".onnx"):
        return "onnx"
    if name.endswith(".keras"):
        return "keras"
    if name.endswith(H5_SUFFIXES):
        return "keras-h5"
    if name.endswith((".npy", ".npz")) or head.startswith(NUMPY_MAGIC):
        # numpy.load decides by the magic, not the name, and unpickles what has neither
        # (allow_pickle=True)
        if is_zip:
            return "npz"
        return "numpy" if head.startswith(NUMPY_MAGIC) else "pickle"
    if _strip_compression(name).endswith(PICKLE_SUFFIXES):
        return "joblib" if ".joblib" in name else "pickle"
    if name.endswith(TORCH_SUFFIXES) or is_zip:
        if is_zip:
            return "pytorch"
        if len(head) >= 262 and head[257:262] == b"ustar":
            return "pytorch-tar"  # torch.load's oldest format: a tar of pickles
        return "pytorch-legacy"  # torch.load unpickles it: a non-pickle is a finding
    if _is_pickle(head):
        return "pickle"  # a pickle under another name is still loaded as one
    if data is not None and is_pickle(data, MAX_PICKLE_BYTES):
        return "pickle"  # protocol 0/1 (no PROTO opcode), or one too long to walk
    return "other"


def _scanner(
    fmt: str, path: str, files: frozenset[str]
) -> Callable[[IO[bytes]], list[ScanFinding]] | None:
    return {
        "safetensors": scan_safetensors,
        "onnx": lambda data: scan_onnx(data, path, files),
        "keras": scan_keras,
        "keras-h5": scan_h5,
        "npz": lambda data: scan_pickles_in_zip(data, numpy_entries=True),
        "numpy": scan_npy,
        "pickle": scan_pickle_stream,
        "joblib": scan_pickle_stream,
        "pytorch": lambda data: scan_pickles_in_zip(data, numpy_entries=False),
        "pytorch-legacy": scan_legacy_torch,
        "pytorch-tar": _scan_torch_tar,
    }.get(fmt)


def _scan_torch_tar(data: IO[bytes]) -> list[ScanFinding]:
    return [
        finding(
            "pytorch-tar-checkpoint",
            "high",
            "a tar-format torch checkpoint: torch.load unpickles its members, which are not read",
            unsafe=True,
        )
    ]


def _too_large(fmt: str, size: int) -> ScanFinding:
    return finding(
        "pickle-too-large",
        "high",
        f"{fmt} stream of {size} bytes is over the scan limit of {MAX_PICKLE_FILE}: not read",
        unsafe=True,
    )


@dataclass(frozen=True)
class _Identity:
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int  # set by the kernel on every change: a rewrite cannot put it back


def _identity(fd: int) -> _Identity:
    info = os.fstat(fd)
    return _Identity(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _scan_one(root: Path, path: str, files: frozenset[str]) -> tuple[FileScan, _Identity]:
    try:
        fd = open_regular_nofollow(root / path)
    except OSError as exc:
        raise InputError(
            f"{root / path}: cannot open: {exc.strerror or 'not a regular file'}"
        ) from None
    with os.fdopen(fd, "rb") as data:
        identity = _identity(data.fileno())
        head = data.read(512)
        data.seek(0)
        fmt = detect_format(path, head, data)
        scan = _scanner(fmt, path, files)
        try:
            if fmt in PICKLE_FORMATS and identity.size > MAX_PICKLE_FILE:
                found = [_too_large(fmt, identity.size)]
            else:
                found = scan(data) if scan else []
        except (zipfile.BadZipFile, EOFError, MemoryError) as exc:
            found = [finding("scan-failed", "high", f"{fmt} file could not be read: {exc}")]
        except NotImplementedError as exc:  # zipfile: a compression method it does not read
            found = [finding("scan-failed", "high", f"{fmt} file: {exc}", unsafe=True)]
    if len(found) > MAX_FINDINGS_PER_FILE:
        extra = len(found) - MAX_FINDINGS_PER_FILE + 1
        worst = found[: MAX_FINDINGS_PER_FILE - 1]
        found = [*worst, finding("scan-truncated", "high", f"{extra} more findings not listed")]
    return FileScan(path, fmt, tuple(found)), identity


@dataclass(frozen=True)
class ScannedModel:
    """A scan of a directory plus the identity of every file it read."""

    root: Path
    scan: ModelScan
    identities: dict[str, _Identity]

    def check_unchanged(self) -> None:
        """InputError when a scanned file was replaced or modified since it was scanned."""
        for path, before in self.identities.items():
            try:
                fd = open_regular_nofollow(self.root / path)
            except OSError:
                raise InputError(f"{self.root / path}: changed after it was scanned") from None
            try:
                if _identity(fd) != before:
                    raise InputError(f"{self.root / path}: changed after it was scanned")
            finally:
                os.close(fd)


def scan_files(model_dir: Path, model_files: list[ModelFile]) -> ScannedModel:
    files = frozenset(f.path for f in model_files)
    results = [_scan_one(model_dir, f.path, files) for f in model_files]
    return ScannedModel(
        model_dir,
        ModelScan(SCANNER, SCANNER_VERSION, RULES, tuple(scan for scan, _ in results)),
        {scan.path: identity for scan, identity in results},
    )


def scan_model(model_dir: Path) -> ModelScan:
    """Scan every regular file under ``model_dir`` (InputError for what ``seal`` refuses)."""
    return scan_files(model_dir, walk_model(model_dir)).scan
