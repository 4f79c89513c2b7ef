"""Sealing: one-pass hash + encrypt + sign of a model, and its verification.

Public surface: ``seal_model``, ``verify_sealed``, ``load_trust``, key generation and the
recipient registry. See ``pipeline.runtime`` for unsealing.

``seal_model`` and ``verify_sealed`` are loaded on first use: they need model_signing, whose
imports (sigstore, TUF) cost most of a command's start, and most commands never touch a
model.sig.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from pipeline.sealing.progress import ProgressCallback
from pipeline.sealing.recipients import (
    Identity,
    Recipient,
    RecipientType,
    WrappedKey,
    generate_recipient_key,
    parse_identity,
    parse_recipient,
    register_recipient_type,
)
from pipeline.sealing.signing_keys import generate_signing_key, load_signing_private_key
from pipeline.sealing.trust import TrustedSigner, TrustPolicy, load_trust

if TYPE_CHECKING:
    from pipeline.sealing.seal import SealOptions, SealSummary, seal_model
    from pipeline.sealing.verify import VerifiedSeal, verify_sealed

_LAZY = {
    "SealOptions": "pipeline.sealing.seal",
    "SealSummary": "pipeline.sealing.seal",
    "seal_model": "pipeline.sealing.seal",
    "VerifiedSeal": "pipeline.sealing.verify",
    "verify_sealed": "pipeline.sealing.verify",
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
