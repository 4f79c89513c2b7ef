"""Stage pointer facts for the unseal policy, with per-replica-shared high-water marks.

A pointer is read through ``sealgate.promotion.read_verified_pointer`` (signed by a gate key,
with a per-stage counter) when the promotion package provides it; a forged or unsigned
pointer is then ``verified: false``. The highest counter seen per (registry_id, stage,
name) is kept in the StateStore (``high-water/<stage>/<quoted name>.json``) by
compare-and-swap, so a pointer older than one any replica has seen is ``rolled_back``.
Registries without signed pointers are read with ``current`` and reported ``verified: false``
with ``counter: null``; the policy data decides whether such a pointer may release a key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sealgate.errors import VerificationError
from sealgate.keyserver._state import StateStore

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


def _verified_reader() -> Callable[..., Any] | None:
    import sealgate.promotion as promotion

    reader = getattr(promotion, "read_verified_pointer", None)
    return reader if callable(reader) else None


def pointer_facts(
    registry: Any,
    stage: str,
    name: str,
    digest: str,
    *,
    gate_keys: list[Any],
    marks: HighWaterMarks,
) -> dict[str, Any]:
    """``{"checked", "stages", "pointer"}`` for the environment's stage."""
    pointer: dict[str, Any] = {
        "stage": stage, "version": None, "digest": None, "counter": None,
        "verified": False, "rolled_back": False, "high_water": None, "problems": [],
    }  # fmt: skip
    reader = _verified_reader()
    if reader is not None:
        try:
            verified = reader(registry, stage, name, gate_keys)
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
    else:
        current = registry.current(stage, name)
        if current is None:
            return {"checked": True, "stages": [], "pointer": None}
        pointer.update(version=current.version, digest=current.digest)
        pointer["problems"] = ["the registry's stage pointers are not signed"]
    current_here = pointer["digest"] == digest and not pointer["rolled_back"]
    return {"checked": True, "stages": [stage] if current_here else [], "pointer": pointer}
