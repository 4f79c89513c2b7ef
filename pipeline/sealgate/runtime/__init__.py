"""Unsealing at the workload: verify, obtain the data key, decrypt into memory, publish
atomically.

The data key comes from the key release service (``KeyserverRelease`` as ``key_release``,
with a ``KeyserverClient``; a device supplies a ``ReleaseDevice``), or, for development
identities outside the enforcement boundary, from an ``Identity`` after ``Authorize``.
"""

from sealgate.runtime._client import KeyserverClient
from sealgate.runtime._keyserver_release import KeyserverRelease, ReleaseDevice
from sealgate.runtime._unseal import (
    Authorize,
    KeyRelease,
    UnsealRequest,
    UnsealSummary,
    unseal_model,
)

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
