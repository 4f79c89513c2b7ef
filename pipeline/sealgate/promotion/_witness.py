"""The head witness: every signed audit head, also kept where the log's writer cannot rewrite it.

Each head is written once as ``heads/<count, 12 digits>.json`` and never overwritten, so the
witness only grows. ``audit verify`` and every append compare the log with the highest
witnessed head: a log shorter than it, or whose record at that count has another hash, was
truncated (restoring an older signed head next to the log does not help).

- production: ``azblob://ACCOUNT/CONTAINER``, a container with a time-based immutability
  (WORM) policy, so a blob once written can be neither replaced nor deleted, also by the
  identity that writes the registry;
- development: a folder (``file://PATH`` or a plain path) that the log's writer may create
  files in but not replace them (for instance another owner's directory with the sticky bit).

Configured with ``--witness`` on the audit commands, or ``SEALGATE_AUDIT_WITNESS`` for every
command that opens a registry (the gate, the key release service).
"""

from __future__ import annotations

import contextlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from sealgate.errors import InputError

WITNESS_ENV = "SEALGATE_AUDIT_WITNESS"
HEADS = "heads"
_HEAD_NAME = re.compile(r"^(\d{12})\.json$")
MAX_HEAD_BYTES = 64 * 1024


def head_name(count: int) -> str:
    return f"{HEADS}/{count:012d}.json"


class HeadWitness(ABC):
    """Signed audit heads by record count, written once."""

    url: str

    @abstractmethod
    def record(self, count: int, head: bytes) -> None:
        """Keep ``head`` (for ``count`` records) unless a head for ``count`` is already kept."""

    @abstractmethod
    def latest(self) -> bytes | None:
        """The head with the highest count, or None when nothing was witnessed yet."""


class FileWitness(HeadWitness):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"

    def record(self, count: int, head: bytes) -> None:
        from sealgate.promotion._fs_registry import create_exclusive

        create_exclusive(self.root / head_name(count), head)

    def latest(self) -> bytes | None:
        folder = self.root / HEADS
        try:
            names = [p.name for p in folder.iterdir() if _HEAD_NAME.match(p.name)]
        except FileNotFoundError:
            return None
        if not names:
            return None
        path = folder / max(names)
        with path.open("rb") as handle:
            return handle.read(MAX_HEAD_BYTES)


class BlobWitness(HeadWitness):
    def __init__(self, url: str) -> None:
        from sealgate.promotion._blob_registry import blob_service

        service, container, _ = blob_service(url)
        self.url = url
        self._container = service.get_container_client(container)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        from azure.core.exceptions import AzureError

        try:
            yield
        except AzureError as exc:
            from sealgate._azure import service_failure

            where = f"audit witness {self.url}"
            failure = service_failure(where, exc, "the witness is unchanged")
            if failure is not None:
                raise failure from None
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise InputError(f"{where}: {reason}") from None

    def record(self, count: int, head: bytes) -> None:
        from azure.core.exceptions import ResourceExistsError

        with self._errors(), contextlib.suppress(ResourceExistsError):
            # Written once already: an immutable container refuses a second write anyway.
            self._container.upload_blob(head_name(count), head, overwrite=False)

    def latest(self) -> bytes | None:
        with self._errors():
            names = [
                b.name
                for b in self._container.list_blobs(name_starts_with=f"{HEADS}/")
                if _HEAD_NAME.match(b.name.removeprefix(f"{HEADS}/"))
            ]
            if not names:
                return None
            return bytes(self._container.download_blob(max(names)).readall())


def open_witness(spec: str) -> HeadWitness:
    """``azblob://ACCOUNT/CONTAINER``, ``file://PATH`` or a plain folder path."""
    if spec.startswith("azblob://"):
        return BlobWitness(spec)
    path = spec.removeprefix("file://")
    if not path or "://" in path:
        raise InputError(
            f"--witness {spec}: use a folder, file://PATH or azblob://ACCOUNT/CONTAINER"
        )
    return FileWitness(Path(path))


def witness_from_environment() -> HeadWitness | None:
    spec = os.environ.get(WITNESS_ENV)
    return open_witness(spec) if spec else None
