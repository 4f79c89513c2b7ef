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
from sealgate.scanning._opcodes import PickleWalkError, walk_pickle
from sealgate.scanning._results import ScanFinding, finding

SCANNER = "picklescan"
SCANNER_VERSION = version("picklescan")

# picklescan logs every dangerous import as a warning; the findings carry them instead.
logging.getLogger("picklescan").addHandler(logging.NullHandler())
logging.getLogger("picklescan").propagate = False

# What is read into picklescan, which keeps every opcode of a stream in memory (see
# docs/sealing.md for the measured peak); a longer stream is reported, not read.
MAX_PICKLE_BYTES = 64 * 1024 * 1024


def _findings(result: object, where: str, *, walked: bool) -> list[ScanFinding]:
    found: list[ScanFinding] = []
    for item in sorted(getattr(result, "globals", []), key=lambda g: (g.module, g.name)):
        symbol = f"{item.module}.{item.name}"
        if item.safety == picklescan.SafetyLevel.Dangerous:
            found.append(
                finding(
                    "pickle-unsafe-global",
                    "critical",
                    f"{where}imports {symbol}, a callable that runs code when loaded",
                    unsafe=True,
                )
            )
        elif item.safety == picklescan.SafetyLevel.Suspicious:
            found.append(
                finding(
                    "pickle-unknown-global",
                    "high",
                    f"{where}imports {symbol}, a callable on no allow list",
                    unsafe=True,
                )
            )
    if walked and getattr(result, "scan_err", False):
        found.append(
            finding("pickle-malformed", "high", f"{where}pickle stream is malformed after imports")
        )
    return found


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


def too_large(where: str, limit: int) -> ScanFinding:
    return finding(
        "pickle-too-large",
        "high",
        f"{where}pickle stream is over the scan limit of {limit} bytes: not read",
        unsafe=True,
    )


def _walk(data: IO[bytes], max_pickles: int | None) -> int:
    """Walk consecutive pickles from the position of ``data`` to its end (at most
    ``max_pickles`` of them); the offset where the last one ends."""
    offset = count = 0
    while max_pickles is None or count < max_pickles:
        if not data.read(1):
            break
        data.seek(-1, io.SEEK_CUR)
        offset += walk_pickle(data, MAX_PICKLE_BYTES - offset)
        count += 1
    if count == 0:
        raise PickleWalkError("empty stream")
    return offset


def _read_bounded(data: IO[bytes], where: str) -> bytes | ScanFinding:
    raw = data.read(MAX_PICKLE_BYTES + 1)
    kind = compression(raw[:6])
    if kind is not None:
        if len(raw) > MAX_PICKLE_BYTES:
            return too_large(where, MAX_PICKLE_BYTES)
        try:
            raw = decompress_bounded(io.BytesIO(raw), kind, MAX_PICKLE_BYTES)
        except DecompressError as exc:
            if exc.too_large:
                return too_large(where, MAX_PICKLE_BYTES)
            return finding(
                "pickle-compressed",
                "high",
                f"{where}compressed pickle that is not read ({exc})",
                unsafe=True,
            )
    if len(raw) > MAX_PICKLE_BYTES:
        return too_large(where, MAX_PICKLE_BYTES)
    return raw


def scan_pickle_stream(data: IO[bytes], where: str = "") -> list[ScanFinding]:
    """Findings for one or more pickles in ``data`` (``where`` prefixes each message); a
    compressed stream (zlib, gzip, bz2, xz) is decompressed first, up to the same limit."""
    raw = _read_bounded(data, where)
    if isinstance(raw, ScanFinding):
        return [raw]
    try:
        _walk(io.BytesIO(raw), None)
        problem = None
    except PickleWalkError as exc:
        problem = exc
    try:
        result = picklescan.scan_pickle_bytes(io.BytesIO(raw), where or "pickle")
    except ValueError as exc:  # picklescan's own refusal of a stream it cannot follow
        result = None
        problem = problem or PickleWalkError(str(exc))
    found = _findings(result, where, walked=problem is None)
    return [*found, _walk_finding(where, problem)] if problem else found


def scan_legacy_torch(data: IO[bytes]) -> list[ScanFinding]:
    """A pre-1.6 ``torch.save`` file: five pickles (magic number, protocol, system info, the
    object, its storage keys), then raw storage bytes; only the pickles are read."""
    try:
        end = _walk(data, 5)
        problem = None
    except PickleWalkError as exc:
        end, problem = data.tell(), exc
    data.seek(0)
    pickles = io.BytesIO(data.read(min(end, MAX_PICKLE_BYTES)))
    try:
        result = picklescan.scan_pytorch(pickles, "checkpoint")
    except picklescan.InvalidMagicError:
        pickles.seek(0)
        result = picklescan.scan_pickle_bytes(pickles, "checkpoint")
    except ValueError as exc:
        result = None
        problem = problem or PickleWalkError(str(exc))
    found = _findings(result, "", walked=problem is None)
    return [*found, _walk_finding("", problem)] if problem else found
