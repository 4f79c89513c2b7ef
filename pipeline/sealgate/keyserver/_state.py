"""The release service's shared state: small JSON documents changed only by compare-and-swap.

The service keeps nothing of its own in memory that a second replica would need: nonces,
pending enrolments, enrolled devices and pointer high-water marks live in a ``StateStore``
(the registry's storage: a folder in development, a Blob container with ETag conditions in
production), so several replicas behind one Service agree. Keys are relative slash-separated
names such as ``devices/<id>.json``; a store refuses keys with ``..`` or a leading slash.
"""

from __future__ import annotations

import re
from typing import Protocol

from sealgate.errors import InputError


class StateStore(Protocol):
    def read(self, key: str) -> tuple[bytes, str] | None:
        """The document and its tag (content hash or ETag), or None if there is none."""

    def create(self, key: str, content: bytes) -> bool:
        """Write a new document; False (nothing written) if one exists under ``key``."""

    def replace(self, key: str, content: bytes, tag: str) -> bool:
        """Overwrite the document only if it still has ``tag``; False otherwise."""

    def delete(self, key: str, tag: str) -> bool:
        """Remove the document only if it still has ``tag``; False otherwise."""


_KEY = re.compile(r"^[A-Za-z0-9._%-]+(/[A-Za-z0-9._%-]+)*$")


def check_key(key: str) -> str:
    """A relative slash-separated key without ``.``/``..`` parts; anything else is refused."""
    if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
        raise InputError(f"state key {key!r}: not a relative name")
    return key
