"""Pickle streams: the globals they import, read from the opcodes by picklescan, never loaded.

A global on picklescan's deny list (``os.system``, ``builtins.eval``, ...) is an unsafe
callable; one on neither list is also a callable the loader would import and may call, so it
is unsafe too (high); the allow-listed ones (``collections.OrderedDict``, torch storages,
numpy reconstruction) are not reported.
"""

from __future__ import annotations

import io
import logging
from importlib.metadata import version
from typing import IO

from picklescan import scanner as picklescan

from sealgate.scanning._compressed import DecompressError, compression, decompress_bounded
from sealgate.scanning._opcodes import PickleWalkError, walk_pickles
from sealgate.scanning._results import ScanFinding, finding

SCANNER = "picklescan"
SCANNER_VERSION = version("picklescan")

# picklescan logs every dangerous import as a warning; the findings carry them instead.
logging.getLogger("picklescan").addHandler(logging.NullHandler())
logging.getLogger("picklescan").propagate = False

# The longest pickle stream read (sealgate's walk, memory independent of the length; a
# compressed stream is decompressed in memory up to it); a longer one is reported unsafe.
MAX_PICKLE_BYTES = 1024 * 1024 * 1024
MAX_DECOMPRESSED = 256 * 1024 * 1024
# picklescan keeps every opcode in memory (8 MiB of one-byte opcodes: 877 MB resident), so
# it reads only streams up to this size, as a second opinion; the walk reads them all.
MAX_PICKLESCAN_BYTES = 1024 * 1024


def _classified(found: set[tuple[str, str]], where: str) -> list[ScanFinding]:
    # picklescan's own lists decide (the function its scan_pickle_bytes classifies with)
    result = picklescan._build_scan_result_from_raw_globals(found, where or "pickle")
    out: list[ScanFinding] = []
    for item in sorted(result.globals, key=lambda g: (g.module, g.name)):
        symbol = f"{item.module}.{item.name}"
        if item.safety == picklescan.SafetyLevel.Dangerous:
            out.append(
                finding(
                    "pickle-unsafe-global",
                    "critical",
                    f"{where}imports {symbol}, a callable that runs code when loaded",
                    unsafe=True,
                )
            )
        elif item.safety == picklescan.SafetyLevel.Suspicious:
            out.append(
                finding(
                    "pickle-unknown-global",
                    "high",
                    f"{where}imports {symbol}, a callable on no allow list",
                    unsafe=True,
                )
            )
    return out


def too_large(where: str, limit: int) -> ScanFinding:
    return finding(
        "pickle-too-large",
        "high",
        f"{where}pickle stream is over the scan limit of {limit} bytes: not read",
        unsafe=True,
    )


def _walk_finding(where: str, problem: PickleWalkError) -> ScanFinding:
    if problem.exhausted:
        return too_large(where, MAX_PICKLE_BYTES)
    return finding(
        "pickle-malformed",
        "critical",
        f"{where}not a pickle sealgate can follow to its end ({problem}): a loader may read "
        "imports that no scanner saw",
        unsafe=True,
    )


def _picklescan_globals(data: IO[bytes], start: int, end: int) -> set[tuple[str, str]]:
    """picklescan's globals of the bytes ``start:end`` when they are few enough to hand it."""
    if end - start > MAX_PICKLESCAN_BYTES:
        return set()
    data.seek(start)
    try:
        result = picklescan.scan_pickle_bytes(io.BytesIO(data.read(end - start)), "pickle")
    except ValueError:  # picklescan's refusal; the walk already followed these bytes
        return set()
    return {(g.module, g.name) for g in result.globals}


def _scan_walked(data: IO[bytes], where: str, max_pickles: int | None) -> list[ScanFinding]:
    start = data.tell()
    found: set[tuple[str, str]] = set()
    try:
        end = start + walk_pickles(data, MAX_PICKLE_BYTES, max_pickles, found)
    except PickleWalkError as exc:
        return [*_classified(found, where), _walk_finding(where, exc)]
    found |= _picklescan_globals(data, start, end)
    return _classified(found, where)


def _decompressed(data: IO[bytes], kind: str, where: str) -> IO[bytes] | ScanFinding:
    try:
        return io.BytesIO(decompress_bounded(data, kind, MAX_DECOMPRESSED))
    except DecompressError as exc:
        if exc.too_large:
            return too_large(where, MAX_DECOMPRESSED)
        return finding(
            "pickle-compressed",
            "high",
            f"{where}compressed pickle that is not read ({exc})",
            unsafe=True,
        )


def scan_pickle_stream(data: IO[bytes], where: str = "") -> list[ScanFinding]:
    """Findings for the pickles that make up ``data`` from its position to its end (``where``
    prefixes each message); a compressed stream (zlib, gzip, bz2, xz) is decompressed first,
    up to ``MAX_DECOMPRESSED``."""
    start = data.tell()
    kind = compression(data.read(6))
    data.seek(start)
    if kind is not None:
        inner = _decompressed(data, kind, where)
        if isinstance(inner, ScanFinding):
            return [inner]
        data = inner
    return _scan_walked(data, where, None)


def scan_legacy_torch(data: IO[bytes]) -> list[ScanFinding]:
    """A pre-1.6 ``torch.save`` file: five pickles (magic number, protocol, system info, the
    object, its storage keys), then raw storage bytes; only the pickles are read."""
    return _scan_walked(data, "", 5)
