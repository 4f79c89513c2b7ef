"""Who may sign sealed models: a trust file of signers, validity windows and revocations.

A trust file is YAML::

    signers:
      - name: release-pipeline
        key_id: 3f1c...        # optional; SHA-256 of the SubjectPublicKeyInfo DER, checked
        public_key_path: release.pub   # or public_key: a PEM string; paths are file-relative
        not_before: 2025-01-01T00:00:00Z   # optional, UTC offsets required
        not_after: 2027-01-01T00:00:00Z    # optional
        revoked: false                     # optional
    revoked_key_ids: [...]                 # optional

A bare PEM public key is a trust file with one signer and no validity window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate._paths import read_bounded
from sealgate._yaml import load_yaml
from sealgate.errors import InputError, VerificationError
from sealgate.sealing._signing_keys import parse_signing_public_key, signing_key_id

MAX_TRUST_FILE_BYTES = 1024 * 1024
_SIGNER_FIELDS = {
    "name",
    "key_id",
    "public_key",
    "public_key_path",
    "not_before",
    "not_after",
    "revoked",
}


@dataclass(frozen=True)
class TrustedSigner:
    name: str
    key_id: str
    public_key: ec.EllipticCurvePublicKey
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked: bool = False


@dataclass(frozen=True)
class TrustPolicy:
    source: str
    signers: tuple[TrustedSigner, ...]
    revoked_key_ids: frozenset[str] = frozenset()

    def signer_for(self, key_id: str, now: datetime) -> TrustedSigner:
        """The signer with ``key_id`` if it is trusted at ``now``; otherwise a denial."""
        short = key_id[:16]
        if key_id in self.revoked_key_ids:
            raise VerificationError(f"signer key {short} is revoked in {self.source}")
        matches = [s for s in self.signers if s.key_id == key_id]
        if not matches:
            raise VerificationError(f"signer key {short} is not trusted by {self.source}")
        signer = matches[0]
        if signer.revoked:
            raise VerificationError(f"signer {signer.name!r} ({short}) is revoked")
        if signer.not_before is not None and now < signer.not_before:
            raise VerificationError(
                f"signer {signer.name!r} is not valid before {signer.not_before.isoformat()}"
            )
        if signer.not_after is not None and now > signer.not_after:
            raise VerificationError(
                f"signer {signer.name!r} expired at {signer.not_after.isoformat()}"
            )
        return signer


def _timestamp(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{where}: not an ISO 8601 timestamp") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        raise InputError(f"{where}: needs a time and a UTC offset, not only a date")
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InputError(f"{where}: needs a timestamp with a UTC offset, e.g. 2026-01-01T00:00:00Z")
    return value.astimezone(UTC)


def _signer(raw: Any, position: int, base: Path, source: str) -> TrustedSigner:
    where = f"{source}: signers[{position}]"
    if not isinstance(raw, dict):
        raise InputError(f"{where}: not a mapping")
    unknown = set(raw) - _SIGNER_FIELDS
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: name is required")
    if ("public_key" in raw) == ("public_key_path" in raw):
        raise InputError(f"{where}: give exactly one of public_key or public_key_path")
    if "public_key" in raw:
        if not isinstance(raw["public_key"], str):
            raise InputError(f"{where}: public_key must be a PEM string")
        public_key = parse_signing_public_key(raw["public_key"].encode(), where)
    else:
        if not isinstance(raw["public_key_path"], str):
            raise InputError(f"{where}: public_key_path must be a string")
        key_path = base / raw["public_key_path"]
        public_key = parse_signing_public_key(
            read_bounded(key_path, MAX_TRUST_FILE_BYTES, "public key"), str(key_path)
        )
    key_id = signing_key_id(public_key)
    declared = raw.get("key_id")
    if declared is not None and declared != key_id:
        raise InputError(f"{where}: key_id does not match the public key (it is {key_id})")
    revoked = raw.get("revoked", False)
    if not isinstance(revoked, bool):
        raise InputError(f"{where}: revoked must be true or false")
    not_before = _timestamp(raw.get("not_before"), f"{where}.not_before")
    not_after = _timestamp(raw.get("not_after"), f"{where}.not_after")
    if not_before and not_after and not_after <= not_before:
        raise InputError(f"{where}: not_after is not after not_before")
    return TrustedSigner(name, key_id, public_key, not_before, not_after, revoked)


def load_trust(path: Path) -> TrustPolicy:
    """Load a YAML trust file, or a bare PEM public key as a one-signer trust file."""
    data = read_bounded(path, MAX_TRUST_FILE_BYTES, "trust file")
    source = str(path)
    if data.lstrip().startswith(b"-----BEGIN PUBLIC KEY-----"):
        public_key = parse_signing_public_key(data, source)
        return TrustPolicy(
            source, (TrustedSigner(path.stem, signing_key_id(public_key), public_key),)
        )
    document = load_yaml(data, source)
    if not isinstance(document, dict) or not isinstance(document.get("signers"), list):
        raise InputError(f"{source}: a trust file needs a 'signers' list (or pass a PEM key)")
    unknown = set(document) - {"signers", "revoked_key_ids"}
    if unknown:
        raise InputError(f"{source}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    signers = tuple(
        _signer(raw, i, path.parent, source) for i, raw in enumerate(document["signers"])
    )
    if not signers:
        raise InputError(f"{source}: no signers")
    ids = [s.key_id for s in signers]
    if len(set(ids)) != len(ids):
        raise InputError(f"{source}: the same key is listed twice")
    revoked = document.get("revoked_key_ids", [])
    if not isinstance(revoked, list) or not all(isinstance(k, str) for k in revoked):
        raise InputError(f"{source}: revoked_key_ids must be a list of key ids")
    return TrustPolicy(source, signers, frozenset(k.lower() for k in revoked))
