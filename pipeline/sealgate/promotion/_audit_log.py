"""Reading the audit log's bytes: complete records, and a torn tail with its byte offset.

A record is written as one write of its line and newline, so after a crash or a full disk
the log is whole records followed, at worst, by one torn tail: bytes after the last
newline, or a final line that does not parse as a JSON object (a page of zeros written
by a disk that filled up). Only such a tail is ever cut by ``sealgate audit repair``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

PREVIEW_BYTES = 120


@dataclass(frozen=True)
class TornTail:
    offset: int  # byte offset where the torn record starts
    data: bytes  # everything from there to the end of the log
    position: int  # the record number it would have had
    reason: str

    def describe(self) -> str:
        return (
            f"record {self.position} is torn at byte offset {self.offset} "
            f"({len(self.data)} bytes, {self.reason})"
        )

    def preview(self) -> str:
        shown = self.data[:PREVIEW_BYTES]
        more = "..." if len(self.data) > PREVIEW_BYTES else ""
        return repr(shown)[2:-1] + more


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (UnicodeDecodeError, ValueError):
        return False


def split_log(log: bytes) -> tuple[list[bytes], TornTail | None]:
    """The complete lines of ``log`` (without newlines) and its torn tail, if any."""
    end = log.rfind(b"\n") + 1
    lines = log[:end].split(b"\n")[:-1] if end else []
    if end < len(log):
        return lines, TornTail(end, log[end:], len(lines), "incomplete: no newline at its end")
    if lines and not _is_record(lines[-1]):
        start = end - len(lines[-1]) - 1
        return lines[:-1], TornTail(
            start, log[start:], len(lines) - 1, "incomplete: not a JSON record"
        )
    return lines, None
