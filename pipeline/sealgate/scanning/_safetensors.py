"""safetensors header sanity: an 8-byte little-endian header length, a JSON header, a buffer.

Checked as the format's specification states: the header length within the file (and at
most 100 MB), a JSON object of tensors ``{dtype, shape, data_offsets: [begin, end]}`` (plus
an optional ``__metadata__`` string map) whose offsets lie in the buffer, whose byte count
matches dtype and shape, and which index the whole buffer without overlaps or holes.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import IO, Any

from sealgate.scanning._results import ScanFinding, finding

MAX_HEADER = 100_000_000
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64,
    "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip


def _bad(problem: str) -> list[ScanFinding]:
    return [finding("safetensors-malformed", "medium", problem)]


def _tensor_span(name: str, entry: Any, buffer: int) -> tuple[int, int] | str:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        return f"tensor {name!r} is not {{dtype, shape, data_offsets}}"
    bits = DTYPE_BITS.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    shape, offsets = entry["shape"], entry["data_offsets"]
    if bits is None:
        return f"tensor {name!r} has an unknown dtype"
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        return f"tensor {name!r} has a malformed shape"
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in offsets)
    ):
        return f"tensor {name!r} has malformed data_offsets"
    begin, end = offsets
    if not 0 <= begin <= end <= buffer:
        return f"tensor {name!r} data_offsets [{begin}, {end}] are outside the {buffer}-byte buffer"
    if (math.prod(shape) * bits + 7) // 8 != end - begin:
        return f"tensor {name!r} spans {end - begin} bytes, its dtype and shape need another size"
    return begin, end


def scan_safetensors(data: IO[bytes]) -> list[ScanFinding]:
    size = os.fstat(data.fileno()).st_size
    prefix = data.read(8)
    if len(prefix) < 8:
        return _bad("shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", prefix)
    if length > MAX_HEADER or length > size - 8:
        return _bad(f"header length {length} exceeds the file or the 100 MB limit")
    try:
        header = json.loads(data.read(length))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _bad("header is not JSON")
    if not isinstance(header, dict):
        return _bad("header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        return _bad("__metadata__ is not a string map")
    buffer = size - 8 - length
    spans = []
    for name, entry in header.items():
        span = _tensor_span(name, entry, buffer)
        if isinstance(span, str):
            return [finding("safetensors-bad-offsets", "medium", span)]
        spans.append(span)
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            return [
                finding(
                    "safetensors-bad-offsets",
                    "medium",
                    f"tensors {'overlap' if begin < position else 'leave a hole'} at byte {begin}",
                )
            ]
        position = end
    if position != buffer:
        return [
            finding(
                "safetensors-bad-offsets",
                "medium",
                f"{buffer - position} bytes after the last tensor",
            )
        ]
    return []
