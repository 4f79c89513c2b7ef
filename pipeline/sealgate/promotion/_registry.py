"""The registry interface: sealed models by digest, stage pointers, and the audit log.

One abstract store per concern (``ModelStore``, ``PointerStore``, ``AuditStore``); a
``Registry`` is all three for one URL. Backends register their URL scheme in
``sealgate.promotion._backends``, which ``open_registry`` dispatches on; this module imports
no backend. The built-in backends store the same objects under the same names:

- ``models/<hex>/seal.json``, ``model.sig``, ``payload/NNNNNN.enc``: a sealed model, keyed by
  its digest (``sha256:<hex>`` of ``seal.json``); ``seal.json`` is written last, so a model
  whose header is present is complete;
- ``stages/<stage>/<quoted name>.json``: where model ``name`` is in ``stage``: a pointer
  signed by the gate key (version, digest, the hash of the audit record that moved it, a
  counter per stage and the registry id; ``sealgate.promotion._pointers``);
- ``registry.json``: the registry's identity (a random id, created once, signed by the gate
  key; ``sealgate.promotion._identity``), named by every record and pointer;
- ``audit/log.jsonl``: the hash-chained, signed decision records; ``audit/head.json``: the
  signed count and hash of the last record, so a truncated log is detected (and, where one
  is configured, the same heads in a witness the log's writer cannot rewrite).

Pointers move by compare-and-swap: ``read_pointer`` returns a tag (file content hash or blob
ETag) and ``set_pointer`` fails with :class:`ConflictError` if the pointer no longer has it.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from sealgate.errors import DeniedError, InputError
from sealgate.sealing._header import name_problem

if TYPE_CHECKING:
    from sealgate.promotion._witness import HeadWitness

STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
MODELS = "models"
STAGES = "stages"
AUDIT_LOG = "audit/log.jsonl"
AUDIT_HEAD = "audit/head.json"
REGISTRY_FILE = "registry.json"
GENESIS = "sha256:" + "0" * 64


class ConflictError(DeniedError):
    """Another promotion changed the same pointer first; nothing was changed by this one."""


@dataclass(frozen=True)
class StagePointer:
    """Model ``name`` at ``version`` with ``digest`` is in ``stage``; ``record`` moved it there.

    As stored it is signed (``gate_key_id``, ``sig``); only
    ``sealgate.promotion.read_verified_pointer`` says whether the signature holds.
    """

    name: str
    version: str
    digest: str
    record: str = ""
    updated: str = ""
    stage: str = ""
    counter: int = 0
    registry_id: str = ""
    gate_key_id: str = ""
    sig: str = ""

    def body(self) -> dict[str, str | int]:
        """The signed fields (everything but ``gate_key_id`` and ``sig``)."""
        return {k: v for k, v in asdict(self).items() if k not in ("gate_key_id", "sig")}

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> StagePointer:
        try:
            raw = json.loads(data)
            pointer = cls(**raw)
        except (ValueError, TypeError):
            raise InputError(f"registry: {where} is not a stage pointer") from None
        for item in fields(pointer):
            value = getattr(pointer, item.name)
            wanted = int if item.name == "counter" else str
            if type(value) is not wanted:
                raise InputError(f"registry: {where} is not a stage pointer")
        return pointer


@dataclass(frozen=True)
class AuditTail:
    """What the next record chains to: the last record's sequence number and hash."""

    seq: int
    hash: str


EMPTY_TAIL = AuditTail(-1, GENESIS)


class AuditDamagedError(DeniedError):
    """The audit log or its head is damaged: nothing is appended until it is examined."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"audit log damaged: {problem}; nothing was recorded or changed "
            "(run `sealgate audit verify`, and `sealgate audit repair` for a torn record)"
        )


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

    # Where heads are also recorded, out of reach of the log's writer (None: not configured).
    witness: HeadWitness | None = None

    @abstractmethod
    def append_audit(self, make_line: Callable[[bytes, bytes | None], bytes]) -> bytes:
        """Append ``make_line(log, head)`` in one write, so that no other record lands between
        reading the log and appending; return the appended line (without its newline).
        ``log`` is the whole current log, ``head`` the signed head read no later than the
        log (so it never counts more records than a sound log holds). ``make_line`` raises
        to refuse the append."""

    @abstractmethod
    def truncate_audit(self, size: int, expected_size: int) -> None:
        """Cut the log to ``size`` bytes if it still has ``expected_size`` (``audit repair``)."""

    @abstractmethod
    def read_audit(self) -> bytes:
        """The whole audit log (empty when there is none)."""

    @abstractmethod
    def read_audit_head(self) -> bytes | None: ...

    @abstractmethod
    def write_audit_head(self, head: bytes, count: int) -> None:
        """Record the signed head unless a head for as many or more records is already there."""


class DocumentStore(ABC):
    """Small documents written once and never replaced (the registry identity)."""

    @abstractmethod
    def read_document(self, key: str) -> bytes | None: ...

    @abstractmethod
    def create_document(self, key: str, data: bytes) -> bool:
        """Write ``data`` under ``key`` unless something is there; False when it was."""


class Registry(ModelStore, PointerStore, AuditStore, DocumentStore):
    """Sealed models, stage pointers and the audit log of one registry URL.

    A backend implements the three stores and registers its URL scheme with
    ``sealgate.promotion.register_backend``.
    """

    url: str

    def close(self) -> None:
        """Release connections."""
