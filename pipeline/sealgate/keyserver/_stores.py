"""Open the StateStore a URL names: a folder or a Blob container."""

from __future__ import annotations

from pathlib import Path

from sealgate.errors import InputError
from sealgate.keyserver._state import StateStore


def open_state_store(url: str, prefix: str = "keyserver/") -> StateStore:
    """``file:///PATH`` (a folder) or ``azblob://ACCOUNT/CONTAINER[?endpoint=URL]`` (ETags),
    with documents under ``prefix``: by default the registry's own storage."""
    scheme, _, rest = url.partition("://")
    if scheme == "file" and rest:
        from sealgate.keyserver._fs_state import FileStateStore

        return FileStateStore(Path(rest) / prefix.strip("/"))
    if scheme == "azblob":
        from sealgate.keyserver._blob_state import BlobStateStore
        from sealgate.promotion._blob_registry import BlobRegistry

        # The registry's URL rules and credentials, and its container for the documents.
        registry = BlobRegistry.from_url(url)
        return BlobStateStore(registry._container, prefix)
    raise InputError(f"state {url!r}: use file:///PATH or azblob://ACCOUNT/CONTAINER")
