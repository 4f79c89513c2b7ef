"""The registry interface: sealed models by digest, stage pointers, and the audit log.

One abstract store per concern (``ModelStore``, ``PointerStore``, ``AuditStore``); a
``Registry`` is all three for one URL. Backends register their URL scheme in
``sealgate.promotion._backends``, which ``open_registry`` dispatches on; this module imports
no backend. The built-in backends store the same objects under the same names:

- ``models/<hex>/seal.json``, ``model.sig``, ``payload/NNNNNN.enc``: a sealed model, keyed by
  its digest (``sha256:<hex>`` of ``seal.json``); ``seal.json`` is written last, so a model
  whose header is present is complete;
- ``stages/<stage>/<quoted name>.json``: where model ``name`` is in ``stage`` (version,
  digest, and the hash of the audit record that moved it there);
- ``audit/log.jsonl``: the hash-chained, signed decision records; ``audit/head.json``: the
  signed count and hash of the last record, so a truncated log is detected.

Pointers move by compare-and-swap: ``read_pointer`` returns a tag (file content hash or blob
ETag) and ``set_pointer`` fails with :class:`ConflictError` if the pointer no longer has it.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from sealgate.errors import DeniedError, InputError
from sealgate.promotion._digest import digest_of_bytes
from sealgate.sealing._header import name_problem

STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
MODELS = "models"
STAGES = "stages"
AUDIT_LOG = "audit/log.jsonl"
AUDIT_HEAD = "audit/head.json"
GENESIS = "sha256:" + "0" * 64


class ConflictError(DeniedError):
    """Another promotion changed the same pointer first; nothing was changed by this one."""


@dataclass(frozen=True)
class StagePointer:
    """Model ``name`` at ``version`` with ``digest`` is in a stage; ``record`` moved it there."""

    name: str
    version: str
    digest: str
    record: str = ""
    updated: str = ""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> StagePointer:
        try:
            raw = json.loads(data)
            pointer = cls(**raw)
        except (ValueError, TypeError):
            raise InputError(f"registry: {where} is not a stage pointer") from None
        if not all(isinstance(v, str) for v in asdict(pointer).values()):
            raise InputError(f"registry: {where} is not a stage pointer")
        return pointer


@dataclass(frozen=True)
class AuditTail:
    """What the next record chains to: the last record's sequence number and hash."""

    seq: int
    hash: str


EMPTY_TAIL = AuditTail(-1, GENESIS)


def tail_of(line: bytes) -> AuditTail:
    """The chain position after ``line`` (the last record of the log)."""
    try:
        seq = json.loads(line)["seq"]
    except (ValueError, KeyError, TypeError):
        raise InputError(
            "audit log: the last record is unreadable; run `sealgate audit verify`"
        ) from None
    if not isinstance(seq, int):
        raise InputError("audit log: the last record has no sequence number")
    return AuditTail(seq, digest_of_bytes(line))


def check_stage(stage: str) -> str:
    if not STAGE_PATTERN.match(stage):
        raise InputError(f"stage {stage!r}: use lowercase letters, digits and '-'")
    return stage


def check_model_name(name: str) -> str:
    if name_problem(name):
        raise InputError(f"model name {name!r}: {name_problem(name)}")
    return name


def pointer_key(stage: str, name: str) -> str:
    return f"{STAGES}/{check_stage(stage)}/{quote(check_model_name(name), safe='')}.json"


def name_from_pointer_key(file_name: str) -> str:
    return unquote(file_name.removesuffix(".json"))


def model_prefix(digest: str) -> str:
    return f"{MODELS}/{digest.removeprefix('sha256:')}"


def head_count(head: bytes) -> int:
    """The record count a signed audit head claims (-1 when it names none)."""
    try:
        count = json.loads(head).get("count")
    except (ValueError, AttributeError):
        return -1
    return count if isinstance(count, int) else -1


def last_line(data: bytes) -> bytes | None:
    """The last complete line of a log (``data`` may be only its tail)."""
    lines = data.rstrip(b"\n").rsplit(b"\n", 1)
    return lines[-1] if lines and lines[-1] else None


class ModelStore(ABC):
    """Sealed models by digest: content-addressed, written once, complete when present."""

    @abstractmethod
    def has_model(self, digest: str) -> bool: ...

    @abstractmethod
    def store_model(self, digest: str, sealed_dir: Path) -> None:
        """Store a sealed model under its digest (a no-op when it is already complete)."""

    @abstractmethod
    def open_model(self, digest: str) -> AbstractContextManager[Path]:
        """A local directory holding the stored sealed model, for verification."""


class PointerStore(ABC):
    """Stage pointers, moved by compare-and-swap on a tag the backend chooses."""

    def current(self, stage: str, name: str) -> StagePointer | None:
        """Where model ``name`` is in ``stage`` now, or None."""
        return self.read_pointer(stage, name)[0]

    @abstractmethod
    def read_pointer(self, stage: str, name: str) -> tuple[StagePointer | None, str | None]:
        """The pointer and its tag for compare-and-swap (None, None when absent)."""

    @abstractmethod
    def set_pointer(self, stage: str, pointer: StagePointer, expected_tag: str | None) -> None:
        """Move the pointer atomically if its tag is still ``expected_tag``; else ConflictError."""

    @abstractmethod
    def pointers(self) -> list[tuple[str, StagePointer]]:
        """Every (stage, pointer) in the registry."""


class AuditStore(ABC):
    """The append-only audit log and its signed head."""

    @abstractmethod
    def append_audit(self, make_line: Callable[[AuditTail], bytes]) -> bytes:
        """Append ``make_line(tail)`` so that no other record lands between reading the tail
        and appending; return the appended line (without its newline)."""

    @abstractmethod
    def read_audit(self) -> bytes:
        """The whole audit log (empty when there is none)."""

    @abstractmethod
    def read_audit_head(self) -> bytes | None: ...

    @abstractmethod
    def write_audit_head(self, head: bytes, count: int) -> None:
        """Record the signed head unless a head for as many or more records is already there."""


class Registry(ModelStore, PointerStore, AuditStore):
    """Sealed models, stage pointers and the audit log of one registry URL.

    A backend implements the three stores and registers its URL scheme with
    ``sealgate.promotion.register_backend``.
    """

    url: str

    def close(self) -> None:
        """Release connections."""
