"""Sealing: one-pass hash + encrypt + sign of a model, and its verification.

Public surface: ``seal_model``, ``verify_sealed``, ``load_trust``, key generation and the
recipient registry. See ``pipeline.runtime`` for unsealing.
"""

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
from pipeline.sealing.seal import SealOptions, SealSummary, seal_model
from pipeline.sealing.signing_keys import generate_signing_key, load_signing_private_key
from pipeline.sealing.trust import TrustedSigner, TrustPolicy, load_trust
from pipeline.sealing.verify import VerifiedSeal, verify_sealed

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
