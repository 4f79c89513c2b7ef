"""Challenge nonces in the shared state: single use across replicas, bounded per device.

Each nonce is its own document (``nonces/<hex>.json``); it is accepted once, by whichever
replica's conditional delete wins. Challenges are unauthenticated, so each device has an
index (``nonce-index/<device id>.json``) of its outstanding nonces: at most
``MAX_OUTSTANDING`` are kept, the oldest and the expired ones are deleted when a new one is
issued, so nobody can fill the store by asking for challenges.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sealgate.attestation._documents import (
    encode_document,
    parse_rfc3339,
    read_document,
    rfc3339,
)
from sealgate.errors import InputError
from sealgate.keyserver._state import StateStore

NONCE_FORMAT = "sealgate.attestation.nonce/v1"
INDEX_FORMAT = "sealgate.attestation.nonce-index/v1"
NONCE_BYTES = 32
MAX_OUTSTANDING = 8
_CAS_ATTEMPTS = 8


class NonceBook:
    def __init__(self, state: StateStore, clock: Callable[[], datetime], ttl: timedelta) -> None:
        self._state = state
        self._clock = clock
        self._ttl = ttl

    def issue(self, device_id: str) -> tuple[bytes, datetime]:
        nonce = secrets.token_bytes(NONCE_BYTES)
        expires = self._clock() + self._ttl
        document = {"format": NONCE_FORMAT, "device_id": device_id, "expires": rfc3339(expires)}
        if not self._state.create(_nonce_key(nonce.hex()), encode_document(document)):
            raise InputError("nonce collision; retry")
        try:
            dropped = self._index(device_id, nonce.hex(), expires)
        except BaseException:
            self._discard(nonce.hex())
            raise
        for old in dropped:
            self._discard(old)
        return nonce, expires

    def consume(self, nonce: bytes, device_id: str) -> tuple[bool, str | None]:
        """(fresh, the reason if not): accepted at most once, by one replica."""
        key = _nonce_key(nonce.hex())
        found = read_document(self._state, key)
        if found is None:
            return False, "the nonce was not issued by this service or was already used"
        document, tag = found
        if document.get("device_id") != device_id:
            return False, "the nonce was issued to another device"
        if not self._state.delete(key, tag):
            return False, "the nonce was already used"
        expires = parse_rfc3339(document.get("expires"))
        if expires is None or self._clock() >= expires:
            return False, "the nonce has expired"
        return True, None

    def _index(self, device_id: str, nonce_hex: str, expires: datetime) -> list[str]:
        """Add the nonce to the device's index; the nonces it no longer keeps."""
        key = f"nonce-index/{device_id}.json"
        now = self._clock()
        for _ in range(_CAS_ATTEMPTS):
            found = read_document(self._state, key)
            entries = _entries(found[0] if found else {})
            live = [e for e in entries if (parse_rfc3339(e["expires"]) or now) > now]
            live.append({"nonce": nonce_hex, "expires": rfc3339(expires)})
            kept = live[-MAX_OUTSTANDING:]
            document = {"format": INDEX_FORMAT, "device_id": device_id, "nonces": kept}
            content = encode_document(document)
            written = (
                self._state.replace(key, content, found[1])
                if found is not None
                else self._state.create(key, content)
            )
            if written:
                kept_nonces = {e["nonce"] for e in kept}
                return [e["nonce"] for e in entries if e["nonce"] not in kept_nonces]
        raise InputError(f"too many concurrent challenges for device {device_id}; retry")

    def _discard(self, nonce_hex: str) -> None:
        found = self._state.read(_nonce_key(nonce_hex))
        if found is not None:
            self._state.delete(_nonce_key(nonce_hex), found[1])


def _entries(index: dict[str, Any]) -> list[dict[str, str]]:
    entries = index.get("nonces") if index.get("format") == INDEX_FORMAT else None
    if not isinstance(entries, list):
        return []
    return [
        {"nonce": e["nonce"], "expires": e["expires"]}
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("nonce"), str)
        and len(e["nonce"]) == 2 * NONCE_BYTES
        and all(c in "0123456789abcdef" for c in e["nonce"])
        and isinstance(e.get("expires"), str)
    ]


def _nonce_key(nonce_hex: str) -> str:
    return f"nonces/{nonce_hex}.json"
