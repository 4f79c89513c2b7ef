"""Promotion: the registry of sealed models and stage pointers, the gate, the audit trail.

Public surface: ``open_registry(url)`` -> ``Registry`` (``current(stage, name)`` ->
``StagePointer | None``), ``sealed_model_digest(sealed_dir)``, ``ConflictError``. The gate
itself is ``sealgate.promotion._gate.run_promotion``; the facts document it hands to the
promotion policies is described in ``sealgate.promotion._facts``.
"""

from sealgate.promotion._digest import sealed_model_digest
from sealgate.promotion._registry import ConflictError, Registry, StagePointer, open_registry

__all__ = ["ConflictError", "Registry", "StagePointer", "open_registry", "sealed_model_digest"]
