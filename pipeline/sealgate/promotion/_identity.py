"""The registry's identity: a random id made at first use, so records and pointers cannot be
replayed into another registry.

``registry.json`` = ``{"registry_id": "<32 hex>", "created": RFC 3339, "gate_key_id", "sig"}``
signed by the gate key (``sealgate.promotion._signed``), written once (create-only: a
second writer racing for the first use reads the winner's). Every audit record and stage
pointer carries the id; ``audit verify`` and ``read_verified_pointer`` reject any other.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import VerificationError
from sealgate.promotion._registry import REGISTRY_FILE, DocumentStore
from sealgate.promotion._signed import key_ring, sign_document, signature_problem

IDENTITY_TYPE = "application/vnd.sealgate.registry.v1+json"
IDENTITY_FIELDS = {"registry_id", "created", "gate_key_id", "sig"}
_ID = re.compile(r"^[0-9a-f]{32}$")


def _parse(data: bytes) -> dict[str, object]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise VerificationError(f"registry: {REGISTRY_FILE} is not JSON") from None
    if (
        not isinstance(document, dict)
        or set(document) != IDENTITY_FIELDS
        or not isinstance(document["registry_id"], str)
        or not _ID.match(document["registry_id"])
    ):
        raise VerificationError(f"registry: {REGISTRY_FILE} is not a registry identity")
    return document


def claimed_registry_id(registry: DocumentStore) -> str | None:
    """The id ``registry.json`` states, unverified (for an appender that holds no gate key)."""
    data = registry.read_document(REGISTRY_FILE)
    return None if data is None else str(_parse(data)["registry_id"])


def ensure_registry_id(registry: DocumentStore, key: ec.EllipticCurvePrivateKey) -> str:
    """The registry's id, made and signed with ``key`` if this is its first use."""
    data = registry.read_document(REGISTRY_FILE)
    if data is None:
        body = {
            "registry_id": secrets.token_hex(16),
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        registry.create_document(REGISTRY_FILE, sign_document(body, IDENTITY_TYPE, key))
        data = registry.read_document(REGISTRY_FILE)
        if data is None:
            raise VerificationError(f"registry: {REGISTRY_FILE} vanished after it was written")
    document = _parse(data)
    # Signed by another gate replica: checked by whoever holds every trusted key.
    own = key_ring(key.public_key())
    if document.get("gate_key_id") in own:
        problem = signature_problem(document, IDENTITY_TYPE, own)
        if problem:
            raise VerificationError(f"registry: {REGISTRY_FILE} {problem}")
    return str(document["registry_id"])


def verified_registry_id(
    registry: DocumentStore, gate_keys: Iterable[ec.EllipticCurvePublicKey]
) -> str | None:
    """The id in ``registry.json`` if a gate key signed it; None when there is none yet."""
    data = registry.read_document(REGISTRY_FILE)
    if data is None:
        return None
    document = _parse(data)
    problem = signature_problem(document, IDENTITY_TYPE, key_ring(list(gate_keys)))
    if problem:
        raise VerificationError(f"registry: {REGISTRY_FILE} {problem}")
    return str(document["registry_id"])
