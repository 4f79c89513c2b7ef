"""Zip containers (PyTorch checkpoints, ``.npz``, ``.keras``), read entry by entry.

Limits are checked on the central directory before any entry is read: the number of
entries and each entry's declared uncompressed size, which ``zipfile`` also enforces while
it decompresses (a lying size fails the CRC/length check).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from sealgate.scanning._numpy import MAGIC as NUMPY_MAGIC
from sealgate.scanning._numpy import scan_npy
from sealgate.scanning._pickles import MAX_PICKLE_BYTES, scan_pickle_stream
from sealgate.scanning._results import ScanFinding, finding

MAX_ENTRIES = 100_000
MAX_PICKLE_ENTRY = MAX_PICKLE_BYTES
MAX_CONFIG_ENTRY = 64 * 1024 * 1024


class ArchiveError(Exception):
    pass


@contextmanager
def open_zip(data: IO[bytes]) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(data)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"not a readable zip archive: {exc}") from None
    with archive:
        if len(archive.infolist()) > MAX_ENTRIES:
            raise ArchiveError(f"more than {MAX_ENTRIES} entries")
        yield archive


def _entry_findings(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int
) -> list[ScanFinding] | None:
    """A finding when the entry cannot be read within ``limit``; None when it can."""
    if info.file_size > limit:
        return [
            finding(
                "archive-entry-too-large",
                "high",
                f"{info.filename}: {info.file_size} bytes, over the scan limit of {limit}",
                unsafe=True,
            )
        ]
    return None


def _is_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    # numpy.load of an .npz reads a member as an array by its magic, whatever its name
    with archive.open(info) as entry:
        return entry.read(len(NUMPY_MAGIC)) == NUMPY_MAGIC


def _unreadable(name: str, exc: Exception) -> ScanFinding:
    if isinstance(exc, NotImplementedError):  # a compression method zipfile does not read
        return finding("archive-unsupported", "high", f"{name}: {exc}", unsafe=True)
    return finding("archive-malformed", "high", f"{name}: {exc}")


def scan_pickles_in_zip(data: IO[bytes], *, numpy_entries: bool) -> list[ScanFinding]:
    """Every ``*.pkl`` entry (torch.load reads ``data.pkl``; TorchScript ``constants.pkl``), and
    with ``numpy_entries`` every entry that starts with the ``.npy`` magic (``numpy.load`` of an
    ``.npz`` decides by the magic, not the name)."""
    found: list[ScanFinding] = []
    try:
        with open_zip(data) as archive:
            for info in archive.infolist():
                name = info.filename
                try:
                    npy = numpy_entries and not info.is_dir() and _is_npy(archive, info)
                    if not (npy or name.endswith(".pkl")):
                        continue
                    too_large = _entry_findings(archive, info, MAX_PICKLE_ENTRY)
                    if too_large:
                        found.extend(too_large)
                        continue
                    with archive.open(info) as entry:
                        scan = scan_npy if npy else scan_pickle_stream
                        found.extend(scan(entry, f"{name}: "))
                except (
                    zipfile.BadZipFile,
                    OSError,
                    RuntimeError,
                    EOFError,
                    NotImplementedError,
                ) as exc:
                    found.append(_unreadable(name, exc))
    except ArchiveError as exc:
        found.append(finding("archive-malformed", "high", str(exc)))
    return found


def read_json_entry(data: IO[bytes], name: str) -> Any:
    """The JSON document ``name`` inside a zip (ArchiveError when absent or unreadable)."""
    with open_zip(data) as archive:
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise ArchiveError(f"no {name} in the archive") from None
        if info.file_size > MAX_CONFIG_ENTRY:
            raise ArchiveError(f"{name} is over {MAX_CONFIG_ENTRY} bytes")
        try:
            with archive.open(info) as entry:
                return json.loads(entry.read(MAX_CONFIG_ENTRY + 1))
        except (
            zipfile.BadZipFile,
            OSError,
            RuntimeError,
            ValueError,
            RecursionError,
            NotImplementedError,
        ) as exc:
            raise ArchiveError(f"{name}: {exc}") from None
