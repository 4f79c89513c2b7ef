"""sealgate's own walk over pickle opcodes: a stream the walk cannot follow to STOP is
refused, whatever picklescan made of it.

picklescan returns an empty, error-free result when ``pickletools.genops`` fails before the
first import, yet Python's unpickler reads more than genops does (``I0x1`` is ``int(s, 0)``
to the unpickler, an error to genops): a stream that genops cannot follow is one whose
imports nobody has seen. The walk reads through a window of at most ``limit`` bytes and
keeps nothing but the opcode in hand, so its memory does not grow with the stream.
"""

from __future__ import annotations

import pickletools
from typing import IO

# The first byte of every pickle opcode (PROTO included): what a pickle may start with.
OPCODE_BYTES = frozenset(op.code.encode("latin1")[0] for op in pickletools.opcodes)


class PickleWalkError(Exception):
    """The stream is not a sequence of opcodes ending in STOP."""

    def __init__(self, message: str, *, exhausted: bool = False) -> None:
        super().__init__(message)
        self.exhausted = exhausted  # the window ran out, not the opcodes


class _Window:
    """A read-only view of at most ``limit`` bytes of ``data`` (what genops reads through)."""

    def __init__(self, data: IO[bytes], limit: int) -> None:
        self._data = data
        self.left = limit

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        chunk = self._data.read(size)
        self.left -= len(chunk)
        return chunk

    def readline(self) -> bytes:
        line = self._data.readline(self.left)
        self.left -= len(line)
        return line


def walk_pickle(data: IO[bytes], limit: int) -> int:
    """Follow one pickle from the current position to its STOP; the bytes it spans.

    PickleWalkError when an opcode is unknown or malformed, the stream ends first, or the
    pickle is longer than ``limit`` (``exhausted``)."""
    window = _Window(data, limit)
    try:
        for opcode, _arg, _pos in pickletools.genops(window):
            if opcode.name == "STOP":
                return limit - window.left
    except Exception as exc:  # genops raises ValueError, struct.error, UnicodeError, ...
        if window.left == 0:
            raise PickleWalkError(
                f"pickle is over the scan limit of {limit} bytes", exhausted=True
            ) from None
        raise PickleWalkError(f"opcodes cannot be followed: {exc}") from None
    raise PickleWalkError("pickle ends before STOP")  # genops stops only at STOP or an error


def is_pickle(data: IO[bytes], limit: int) -> bool:
    """Whether ``data`` (at its start) reads as a pickle: a first byte that is an opcode and
    a walk that reaches STOP, or one that runs past ``limit`` (unknown, so treated as one)."""
    start = data.tell()
    try:
        first = data.read(1)
        if not first or first[0] not in OPCODE_BYTES:
            return False
        data.seek(start)
        walk_pickle(data, limit)
        return True
    except PickleWalkError as exc:
        return exc.exhausted
    finally:
        data.seek(start)
