"""sealgate's own walk over pickle opcodes: a stream the walk cannot follow to STOP is
refused, whatever picklescan made of it.

picklescan returns an empty, error-free result when ``pickletools.genops`` fails before the
first import, yet Python's unpickler reads more than genops does (``I0x1`` is ``int(s, 0)``
to the unpickler, an error to genops): a stream that genops cannot follow is one whose
imports nobody has seen. The walk reads through a window of at most ``limit`` bytes and
keeps the opcode in hand, the last two values pushed and a bounded memo of short strings,
so its memory does not grow with the stream (picklescan keeps every opcode: about 100 bytes
of memory per byte of a pickle of one-byte opcodes).

It also lists the globals a stream imports, as picklescan does: ``GLOBAL``/``INST`` name
them, ``STACK_GLOBAL`` takes the two values pushed before it (through the memo for a
``GET``); a value that is not a string, or a memo entry not kept, is ``unknown``, which
picklescan classifies as dangerous.
"""

from __future__ import annotations

import io
import pickletools
from typing import IO, cast

MAX_MEMO_KEYS = 1_000_000  # more memo entries than this: not followed (fail closed)
MAX_MEMO_STRINGS = 100_000  # strings kept for STACK_GLOBAL; past it, a GET is unknown
MAX_MEMO_STRING = 1024
UNKNOWN = "unknown"
_STRINGS = frozenset(
    {"SHORT_BINUNICODE", "UNICODE", "BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING",
     "SHORT_BINSTRING"}
)  # fmt: skip
_PUTS = frozenset({"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"})
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})

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


class _Globals:
    """The imports of a stream, followed opcode by opcode (memo shared across its pickles,
    as picklescan shares it)."""

    def __init__(self, found: set[tuple[str, str]]) -> None:
        self.found = found
        self._memo: dict[int, str] = {}
        self._keys: set[int] = set()  # MEMOIZE stores at len(memo), as the unpickler does
        self._last: str | None = None  # the value the previous opcode pushed
        self._values: list[str] = []  # the last two values pushed, oldest first

    def _remember(self, key: int) -> None:
        self._keys.add(key)
        if len(self._keys) > MAX_MEMO_KEYS:
            raise PickleWalkError(f"more than {MAX_MEMO_KEYS} memo entries")
        value = self._last
        if (
            value is not None
            and len(value) <= MAX_MEMO_STRING
            and len(self._memo) < MAX_MEMO_STRINGS
        ):
            self._memo[key] = value
        else:
            self._memo.pop(key, None)  # a lookup of it is unknown

    def step(self, name: str, arg: object) -> None:
        if name in _PUTS:
            key = len(self._keys) if name == "MEMOIZE" else arg
            if isinstance(key, int):
                self._remember(key)
            return  # a PUT pushes nothing: STACK_GLOBAL looks past it
        if name in ("GLOBAL", "INST") and isinstance(arg, str):
            module, _, attr = arg.partition(" ")
            self.found.add((module, attr))
        elif name == "STACK_GLOBAL":
            module, attr = [UNKNOWN, UNKNOWN, *self._values][-2:]
            self.found.add((module, attr))
        if name in _STRINGS and isinstance(arg, str):
            value: str = arg
        elif name in _GETS and isinstance(arg, int):
            value = self._memo.get(arg, UNKNOWN)
        else:
            value = UNKNOWN
        self._last = value if name in _STRINGS or name in _GETS else None
        self._values = [*self._values[-1:], value]


def walk_pickle(data: IO[bytes], limit: int, imports: _Globals | None = None) -> int:
    """Follow one pickle from the current position to its STOP; the bytes it spans.

    PickleWalkError when an opcode is unknown or malformed, the stream ends first, or the
    pickle is longer than ``limit`` (``exhausted``)."""
    window = _Window(data, limit)
    try:
        # genops needs only read and readline, which the window has
        for opcode, arg, _pos in pickletools.genops(cast(IO[bytes], window)):
            if imports is not None:
                imports.step(opcode.name, arg)
            if opcode.name == "STOP":
                return limit - window.left
    except PickleWalkError:
        raise
    except Exception as exc:  # genops raises ValueError, struct.error, UnicodeError, ...
        if window.left == 0:
            raise PickleWalkError(
                f"pickle is over the scan limit of {limit} bytes", exhausted=True
            ) from None
        raise PickleWalkError(f"opcodes cannot be followed: {exc}") from None
    raise PickleWalkError("pickle ends before STOP")  # genops stops only at STOP or an error


def walk_pickles(
    data: IO[bytes], limit: int, max_pickles: int | None, found: set[tuple[str, str]]
) -> int:
    """Walk consecutive pickles from the position of ``data`` to its end (at most
    ``max_pickles``, ``limit`` bytes in all), adding their imports to ``found``; the offset
    where the last one ends. PickleWalkError as ``walk_pickle``, or for an empty stream."""
    imports = _Globals(found)
    offset = count = 0
    while max_pickles is None or count < max_pickles:
        if not data.read(1):
            break
        data.seek(-1, io.SEEK_CUR)
        offset += walk_pickle(data, limit - offset, imports)
        count += 1
    if count == 0:
        raise PickleWalkError("empty stream")
    return offset


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
