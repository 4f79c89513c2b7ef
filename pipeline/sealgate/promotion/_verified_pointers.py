"""Stage pointers as the unseal policy reads them: signed, and the latest allow in the log.

``read_verified_pointer`` checks a pointer on its own (signature, stage, name, registry);
this view also checks it against the audit log, which is what catches an old, validly
signed pointer copied back over the current one.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import VerificationError
from sealgate.promotion._audit_verify import latest_allow
from sealgate.promotion._pointers import VerifiedPointer, read_verified_pointer
from sealgate.promotion._registry import Registry


class VerifiedPointers:
    """``current(stage, name)`` over verified pointers only (what the unseal policy reads):
    a pointer that does not verify raises ``VerificationError``, and so does one that is not
    the latest allow for its (stage, name) in the audit log (an old pointer copied back)
    unless ``check_log`` is False."""

    def __init__(
        self,
        registry: Registry,
        gate_keys: Iterable[ec.EllipticCurvePublicKey],
        *,
        check_log: bool = True,
    ) -> None:
        self.registry = registry
        self.gate_keys = list(gate_keys)
        self.check_log = check_log

    def current(self, stage: str, name: str) -> VerifiedPointer | None:
        pointer = read_verified_pointer(self.registry, stage, name, self.gate_keys)
        if (
            pointer is not None
            and self.check_log
            and latest_allow(self.registry, stage, name, self.gate_keys) != pointer.record
        ):
            raise VerificationError(
                f"stage pointer {stage}/{name} ({pointer.version}) is not the latest allow "
                "for it in the audit log (rolled back): refused"
            )
        return pointer
