"""Promotion: the registry of sealed models and stage pointers, the gate, the audit trail.

Public surface: ``open_registry(url, *, witness=None)`` -> ``Registry`` (``current(stage,
name)`` -> ``StagePointer | None``, unverified: for display), ``register_backend(scheme,
factory)`` for another storage, ``sealed_model_digest(sealed_dir)``, ``ConflictError``.

Security decisions read pointers through ``read_verified_pointer(registry, stage, name,
gate_keys)`` -> ``VerifiedPointer | None`` (``VerificationError`` for an unsigned, forged,
misplaced or foreign-registry pointer), or ``VerifiedPointers(registry, gate_keys)`` whose
``current`` does the same. ``AuditDamagedError``: an append refused because the log is torn
or cut. ``open_witness(spec)`` -> ``HeadWitness``: where audit heads are also kept.

A ``Registry`` combines the stores (``ModelStore``, ``PointerStore``, ``AuditStore``,
``DocumentStore``) that a backend implements. The gate itself is
``sealgate.promotion._gate.run_promotion``; the facts document it hands to the promotion
policies is described in ``sealgate.promotion._facts``; records are appended with
``sealgate.promotion._audit.append_record`` and checked by
``sealgate.promotion._audit_verify.verify_audit``.
"""

from sealgate.promotion._backends import open_registry, register_backend, registry_schemes
from sealgate.promotion._digest import sealed_model_digest
from sealgate.promotion._pointers import VerifiedPointer, read_verified_pointer
from sealgate.promotion._registry import (
    AuditDamagedError,
    AuditStore,
    ConflictError,
    DocumentStore,
    ModelStore,
    PointerStore,
    Registry,
    StagePointer,
)
from sealgate.promotion._verified_pointers import VerifiedPointers
from sealgate.promotion._witness import HeadWitness, open_witness

__all__ = [
    "AuditDamagedError",
    "AuditStore",
    "ConflictError",
    "DocumentStore",
    "HeadWitness",
    "ModelStore",
    "PointerStore",
    "Registry",
    "StagePointer",
    "VerifiedPointer",
    "VerifiedPointers",
    "open_registry",
    "open_witness",
    "read_verified_pointer",
    "register_backend",
    "registry_schemes",
    "sealed_model_digest",
]
