"""Promotion: the registry of sealed models and stage pointers, the gate, the audit trail.

Public surface: ``open_registry(url)`` -> ``Registry`` (``current(stage, name)`` ->
``StagePointer | None``), ``register_backend(scheme, factory)`` for another storage,
``sealed_model_digest(sealed_dir)``, ``ConflictError``. A ``Registry`` combines three stores
(``ModelStore``, ``PointerStore``, ``AuditStore``) that a backend implements. The gate itself
is ``sealgate.promotion._gate.run_promotion``; the facts document it hands to the promotion
policies is described in ``sealgate.promotion._facts``.
"""

from sealgate.promotion._backends import open_registry, register_backend, registry_schemes
from sealgate.promotion._digest import sealed_model_digest
from sealgate.promotion._registry import (
    AuditStore,
    ConflictError,
    ModelStore,
    PointerStore,
    Registry,
    StagePointer,
)

__all__ = [
    "AuditStore",
    "ConflictError",
    "ModelStore",
    "PointerStore",
    "Registry",
    "StagePointer",
    "open_registry",
    "register_backend",
    "registry_schemes",
    "sealed_model_digest",
]
