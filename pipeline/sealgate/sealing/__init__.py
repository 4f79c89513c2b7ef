"""Sealing: one-pass hash + encrypt + sign of a model, and its verification.

Public surface: ``seal_model``, ``verify_sealed``, ``load_trust``, key generation and the
recipient registry. See ``sealgate.runtime`` for unsealing.

``seal_model`` and ``verify_sealed`` are loaded on first use: they need model_signing, whose
imports (sigstore, TUF) cost most of a command's start, and most commands never touch a
model.sig.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sealgate.sealing._progress import ProgressCallback
from sealgate.sealing._signing_keys import generate_signing_key, load_signing_private_key
from sealgate.sealing._trust import TrustedSigner, TrustPolicy, load_trust
from sealgate.sealing.recipients import (
    Identity,
    Recipient,
    RecipientType,
    WrappedKey,
    generate_recipient_key,
    parse_identity,
    parse_recipient,
    register_recipient_type,
)

if TYPE_CHECKING:
    from sealgate.sealing._seal import SealOptions, SealSummary, seal_model
    from sealgate.sealing._verify import VerifiedSeal, verify_sealed

_LAZY = {
    "SealOptions": "sealgate.sealing._seal",
    "SealSummary": "sealgate.sealing._seal",
    "seal_model": "sealgate.sealing._seal",
    "VerifiedSeal": "sealgate.sealing._verify",
    "verify_sealed": "sealgate.sealing._verify",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Identity",
    "ProgressCallback",
    "Recipient",
    "RecipientType",
    "SealOptions",
    "SealSummary",
    "TrustPolicy",
    "TrustedSigner",
    "VerifiedSeal",
    "WrappedKey",
    "generate_recipient_key",
    "generate_signing_key",
    "load_signing_private_key",
    "load_trust",
    "parse_identity",
    "parse_recipient",
    "register_recipient_type",
    "seal_model",
    "verify_sealed",
]
