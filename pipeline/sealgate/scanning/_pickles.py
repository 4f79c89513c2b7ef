"""Pickle streams: the globals they import, read from the opcodes by picklescan, never loaded.

A global on picklescan's deny list (``os.system``, ``builtins.eval``, ...) is an unsafe
callable; one on neither list is also a callable the loader would import and may call, so it
is unsafe too (high); the allow-listed ones (``collections.OrderedDict``, torch storages,
numpy reconstruction) are not reported.
"""

from __future__ import annotations

import logging
from importlib.metadata import version
from typing import IO

from picklescan import scanner as picklescan

from sealgate.scanning._results import ScanFinding, finding

SCANNER = "picklescan"
SCANNER_VERSION = version("picklescan")

# picklescan logs every dangerous import as a warning; the findings carry them instead.
logging.getLogger("picklescan").addHandler(logging.NullHandler())
logging.getLogger("picklescan").propagate = False


def _findings(result: object, where: str) -> list[ScanFinding]:
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
    if getattr(result, "scan_err", False):
        found.append(
            finding("pickle-malformed", "high", f"{where}pickle stream is malformed after imports")
        )
    return found


def scan_pickle_stream(data: IO[bytes], where: str = "") -> list[ScanFinding]:
    """Findings for one or more pickles in ``data`` (``where`` prefixes each message)."""
    try:
        result = picklescan.scan_pickle_bytes(data, where or "pickle")
    except ValueError as exc:  # picklescan's own refusal of a stream it cannot follow
        return [finding("pickle-malformed", "high", f"{where}pickle cannot be read: {exc}")]
    return _findings(result, where)


def scan_legacy_torch(data: IO[bytes]) -> list[ScanFinding]:
    """A pre-1.6 ``torch.save`` file: a sequence of pickles, then raw storage bytes."""
    try:
        result = picklescan.scan_pytorch(data, "checkpoint")
    except picklescan.InvalidMagicError:
        data.seek(0)
        return scan_pickle_stream(data)
    except ValueError as exc:
        return [finding("pickle-malformed", "high", f"checkpoint cannot be read: {exc}")]
    return _findings(result, "")
