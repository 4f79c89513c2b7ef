"""Stage pointer facts for the unseal policy, with per-replica-shared high-water marks.

The pointer of the environment's stage is read through ``sealgate.promotion.VerifiedPointers``
only: signed by a gate key for exactly its (stage, name) and registry, and the latest allow
for it in the audit log, which must not be shorter than the witnessed head (when a witness
is configured). Anything else (unsigned, forged, foreign, an old pointer copied back) is a
``verified: false`` fact with the problem, so the policy denies with its rule id. There is
no unsigned fallback and no switch to allow one.

That check reads the whole audit log on every lookup (``latest_allow``): linear in the
log's length per release.

Defence in depth: the highest counter seen per (registry_id, stage, name) is kept in the
StateStore (``high-water/<stage>/<quoted name>.json``) by compare-and-swap, so a pointer
older than one any replica has seen is ``rolled_back`` even if the log check were bypassed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import VerificationError
from sealgate.keyserver._state import StateStore
from sealgate.promotion import Registry, VerifiedPointers

MAX_ATTEMPTS = 16


class HighWaterMarks:
    def __init__(self, state: StateStore) -> None:
        self._state = state

    @staticmethod
    def key(stage: str, name: str) -> str:
        return f"high-water/{stage}/{quote(name, safe='')}.json"

    def observe(
        self, registry_id: str, stage: str, name: str, counter: int, digest: str
    ) -> tuple[bool, int]:
        """Record ``counter`` as seen; (rolled_back, highest counter seen before or now)."""
        key = self.key(stage, name)
        document = {
            "registry_id": registry_id,
            "stage": stage,
            "name": name,
            "counter": counter,
            "digest": digest,
        }
        content = json.dumps(document, sort_keys=True).encode()
        for _ in range(MAX_ATTEMPTS):
            current = self._state.read(key)
            if current is None:
                if self._state.create(key, content):
                    return False, counter
                continue
            data, tag = current
            seen = json.loads(data)
            if seen.get("registry_id") != registry_id:
                # Another registry's pointer under this name: never comparable, never accepted.
                return True, int(seen.get("counter", 0))
            high = int(seen["counter"])
            if counter < high or (counter == high and seen.get("digest") != digest):
                return True, high
            if counter == high or self._state.replace(key, content, tag):
                return False, counter
        raise VerificationError(f"high-water mark {key}: too many concurrent updates")


def pointer_facts(
    registry: Registry,
    stage: str,
    name: str,
    digest: str,
    *,
    gate_keys: Sequence[ec.EllipticCurvePublicKey],
    marks: HighWaterMarks,
) -> dict[str, Any]:
    """``{"checked", "stages", "pointer"}`` for the environment's stage.

    Reading failures of the registry itself (``InputError``, ``OSError``) propagate: an
    outage, not a fact.
    """
    pointer: dict[str, Any] = {
        "stage": stage, "version": None, "digest": None, "counter": None,
        "verified": False, "rolled_back": False, "high_water": None, "problems": [],
    }  # fmt: skip
    try:
        verified = VerifiedPointers(registry, gate_keys).current(stage, name)
    except VerificationError as exc:
        pointer["problems"] = [str(exc)]
        return {"checked": True, "stages": [], "pointer": pointer}
    if verified is None:
        return {"checked": True, "stages": [], "pointer": None}
    rolled_back, high = marks.observe(
        verified.registry_id, stage, name, verified.counter, verified.digest
    )
    pointer.update(
        version=verified.version, digest=verified.digest, counter=verified.counter,
        verified=True, rolled_back=rolled_back, high_water=high,
    )  # fmt: skip
    current_here = verified.digest == digest and not rolled_back
    return {"checked": True, "stages": [stage] if current_here else [], "pointer": pointer}
