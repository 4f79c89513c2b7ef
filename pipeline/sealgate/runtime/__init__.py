"""Unsealing at the workload: verify, obtain the data key, decrypt into memory, publish
atomically.

The data key comes from the key release service (``KeyserverRelease`` as ``key_release``,
with a ``KeyserverClient``; a device supplies a ``ReleaseDevice``), or, for development
identities outside the enforcement boundary, from an ``Identity`` after ``Authorize``.

Loaded on first use: the key release client (urllib3, JWT, TEE helpers) is not needed by an
unseal with a local identity, and its imports would be a tenth of such a command's time.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sealgate.runtime._client import KeyserverClient
    from sealgate.runtime._keyserver_release import KeyserverRelease, ReleaseDevice
    from sealgate.runtime._unseal import (
        Authorize,
        KeyRelease,
        UnsealRequest,
        UnsealSummary,
        unseal_model,
    )

_LAZY = {
    "KeyserverClient": "sealgate.runtime._client",
    "KeyserverRelease": "sealgate.runtime._keyserver_release",
    "ReleaseDevice": "sealgate.runtime._keyserver_release",
    "Authorize": "sealgate.runtime._unseal",
    "KeyRelease": "sealgate.runtime._unseal",
    "UnsealRequest": "sealgate.runtime._unseal",
    "UnsealSummary": "sealgate.runtime._unseal",
    "unseal_model": "sealgate.runtime._unseal",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Authorize",
    "KeyRelease",
    "KeyserverClient",
    "KeyserverRelease",
    "ReleaseDevice",
    "UnsealRequest",
    "UnsealSummary",
    "unseal_model",
]
