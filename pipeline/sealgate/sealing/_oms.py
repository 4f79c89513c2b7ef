"""The plaintext signature: an OpenSSF model-signing (OMS) bundle built from sealing digests.

The bundle is what ``model_signing`` 1.1.1 writes for ``sign key``: a Sigstore bundle
(v0.3, public-key hint, no transparency log) whose DSSE envelope carries an in-toto statement
with the ``https://model_signing/signature/v1.0`` predicate. It is built and checked here with
the standard library and ``cryptography`` because importing ``model_signing`` (sigstore,
pydantic models, protobuf) costs more than sealing a model; the tests hold the output to the
real ``model_signing`` verifier.

Three serializations are offered, recorded in the signed seal header (``Hashing``):

- ``sha256``: one SHA-256 per file, model_signing's default (its CLI ``verify key`` accepts it);
- ``sha256-shards``: one SHA-256 per ``shard_size`` bytes of each file (``method: shards``);
- ``blake3``: one BLAKE3 per file (``method: files``, ``hash_type: blake3``).

Verification accepts exactly the serialization the header names, so a signature cannot be
swapped for a weaker or different one without the header's signature breaking.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import VerificationError
from sealgate.sealing import _signing_keys as signing_keys
from sealgate.sealing._envelope import pae
from sealgate.sealing._paths import IGNORED_TOP_LEVEL

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"

SHA256 = "sha256"
SHA256_SHARDS = "sha256-shards"
BLAKE3 = "blake3"
HASHINGS = (SHA256, SHA256_SHARDS, BLAKE3)
DEFAULT_HASHING = SHA256
DEFAULT_SHARD_SIZE = 1_000_000_000  # model_signing's default, so its API verifies unconfigured
MIN_SHARD_SIZE = 1024 * 1024
MAX_SHARD_SIZE = 1 << 40
MAX_RESOURCES = 1_000_000  # digests in one model.sig, checked before any is built or parsed
_DIGEST_BYTES = 32


@dataclass(frozen=True)
class Hashing:
    """The OMS serialization of a seal: ``method`` is one of ``HASHINGS``."""

    method: str = DEFAULT_HASHING
    shard_size: int | None = None

    @classmethod
    def named(cls, method: str, shard_size: int = DEFAULT_SHARD_SIZE) -> Hashing:
        if method == SHA256_SHARDS:
            return cls(method, shard_size)
        return cls(method)

    @property
    def hash_type(self) -> str:
        return BLAKE3 if self.method == BLAKE3 else SHA256

    @property
    def resource_algorithm(self) -> str:
        if self.method == SHA256_SHARDS:
            return f"{SHA256}-sharded-{self.shard_size}"
        return self.hash_type

    def problem(self) -> str | None:
        if self.method not in HASHINGS:
            return f"hashing must be one of {', '.join(HASHINGS)}"
        if self.method == SHA256_SHARDS:
            if self.shard_size is None or not MIN_SHARD_SIZE <= self.shard_size <= MAX_SHARD_SIZE:
                return f"shard size must be within [{MIN_SHARD_SIZE}, {MAX_SHARD_SIZE}] bytes"
        elif self.shard_size is not None:
            return f"{self.method} has no shard size"
        return None

    def range_count(self, size: int) -> int:
        return 1 if self.shard_size is None else -(-size // self.shard_size)

    def ranges(self, size: int) -> list[tuple[int, int]]:
        """The byte ranges that get one digest each (no shard for an empty file)."""
        if self.shard_size is None:
            return [(0, size)]
        return [
            (start, min(start + self.shard_size, size)) for start in range(0, size, self.shard_size)
        ]

    def serialization(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "method": "shards" if self.method == SHA256_SHARDS else "files",
            "hash_type": self.hash_type,
            "allow_symlinks": False,
            "ignore_paths": sorted(IGNORED_TOP_LEVEL),
        }
        if self.shard_size is not None:
            parameters["shard_size"] = self.shard_size
        return parameters


@dataclass(frozen=True)
class _Resource:
    path: str
    start: int
    end: int
    digest: bytes

    def name(self, hashing: Hashing) -> str:
        return f"{self.path}:{self.start}:{self.end}" if hashing.shard_size else self.path

    def order(self) -> tuple[tuple[str, ...], int, int]:
        # model_signing sorts by PurePosixPath (its parts), then offsets: the root digest
        # is computed in that order.
        return (tuple(self.path.split("/")), self.start, self.end)


def _resources(
    hashing: Hashing, digests: Mapping[str, Sequence[bytes]], sizes: Mapping[str, int]
) -> list[_Resource]:
    resources: list[_Resource] = []
    for path, file_digests in digests.items():
        ranges = hashing.ranges(sizes[path])
        if len(ranges) != len(file_digests):
            raise ValueError(f"{path}: {len(file_digests)} digests for {len(ranges)} ranges")
        resources.extend(
            _Resource(path, start, end, digest)
            for (start, end), digest in zip(ranges, file_digests, strict=True)
        )
    return sorted(resources, key=_Resource.order)


def _statement(model_name: str, hashing: Hashing, resources: Sequence[_Resource]) -> bytes:
    root = hashlib.sha256(b"".join(r.digest for r in resources)).hexdigest()
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": hashing.serialization(),
            "resources": [
                {
                    "name": r.name(hashing),
                    "algorithm": hashing.resource_algorithm,
                    "digest": r.digest.hex(),
                }
                for r in resources
            ],
        },
    }
    return json.dumps(statement, indent=2).encode("utf-8")


def _key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    return hashlib.sha256(signing_keys.public_key_pem(public_key)).hexdigest()


def build_signature(
    model_name: str,
    hashing: Hashing,
    digests: Mapping[str, Sequence[bytes]],
    sizes: Mapping[str, int],
    private_key: ec.EllipticCurvePrivateKey,
) -> bytes:
    """An OMS bundle (JSON bytes): ``digests`` maps a path to one digest per ``hashing`` range."""
    payload = _statement(model_name, hashing, _resources(hashing, digests, sizes))
    signature = signing_keys.sign(private_key, pae(IN_TOTO_PAYLOAD_TYPE, payload))
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": _key_hint(private_key.public_key())},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode("ascii"), "keyid": ""}],
        },
    }
    return json.dumps(bundle, indent=2).encode("utf-8")


def _fail(reason: str) -> VerificationError:
    return VerificationError(f"model.sig: {reason}")


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _fail("not an OpenSSF model-signing bundle")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _fail("not an OpenSSF model-signing bundle") from None


def _signed_statement(data: bytes, public_key: ec.EllipticCurvePublicKey) -> Any:
    try:
        bundle = json.loads(data)
        envelope = bundle["dsseEnvelope"]
        hint = bundle["verificationMaterial"]["publicKey"]["hint"]
        payload_type = envelope["payloadType"]
        signatures = envelope["signatures"]
        payload = _b64(envelope["payload"])
        if not isinstance(signatures, list) or len(signatures) != 1:
            raise _fail("expected exactly one signature")
        signature = _b64(signatures[0]["sig"])
    except VerificationError:
        raise
    except Exception:  # any other shape is not a key-signed OMS bundle
        raise _fail("not an OpenSSF model-signing bundle") from None
    if bundle.get("mediaType") != BUNDLE_MEDIA_TYPE or payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _fail("not an OpenSSF model-signing bundle")
    if not hint:
        raise _fail("the bundle does not name its public key")
    if hint != _key_hint(public_key):
        raise _fail("signature does not verify with the signer key")
    try:
        # Any valid ECDSA signature, as model_signing accepts (its own are not low-s): the
        # seal header binds the exact bytes of model.sig, so malleability buys nothing.
        public_key.verify(signature, pae(IN_TOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise _fail("signature does not verify with the signer key") from None
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _fail("the signed statement is not JSON") from None


def _serialization_matches(found: Any, hashing: Hashing) -> bool:
    if not isinstance(found, dict):
        return False
    expected = hashing.serialization()
    found = dict(found)
    shard_size = found.get("shard_size")
    if isinstance(shard_size, float) and shard_size.is_integer():
        found["shard_size"] = int(shard_size)  # model_signing writes protobuf numbers as floats
    # ignore_paths only tells a directory walker what to skip; the resources are checked
    # against exactly the header's files, so whichever paths a signer listed do not matter.
    ignored = found.pop("ignore_paths", [])
    expected.pop("ignore_paths")
    if not isinstance(ignored, list) or not all(isinstance(p, str) for p in ignored):
        return False
    return found == expected and type(found.get("allow_symlinks")) is bool


def signed_digests(
    data: bytes,
    public_key: ec.EllipticCurvePublicKey,
    hashing: Hashing,
    sizes: Mapping[str, int],
) -> dict[str, tuple[bytes, ...]]:
    """Verify an OMS bundle; return path -> one digest per range, for exactly ``sizes``' files.

    The bundle must use the serialization ``hashing`` names (the seal header's, already
    verified) and sign exactly the expected ranges of exactly the expected files."""
    if sum(hashing.range_count(size) for size in sizes.values()) > MAX_RESOURCES:
        raise _fail(f"more than {MAX_RESOURCES} digests for this hashing")
    statement = _signed_statement(data, public_key)
    try:
        predicate = statement["predicate"]
        subjects = statement["subject"]
        raw_resources = predicate["resources"]
        serialization = predicate["serialization"]
        if statement["_type"] != STATEMENT_TYPE or statement["predicateType"] != PREDICATE_TYPE:
            raise _fail("not a model-signing v1.0 statement")
        if not isinstance(raw_resources, list) or not isinstance(subjects, list):
            raise _fail("malformed statement")
        root = subjects[0]["digest"]["sha256"] if len(subjects) == 1 else None
        resources = [(r["name"], r["algorithm"], r["digest"]) for r in raw_resources]
    except VerificationError:
        raise
    except Exception:
        raise _fail("malformed statement") from None
    if not _serialization_matches(serialization, hashing):
        found = (
            {k: serialization.get(k) for k in ("method", "hash_type", "shard_size")}
            if isinstance(serialization, dict)
            else "malformed"
        )
        raise _fail(f"the bundle's serialization {found} is not the sealed {hashing.method!r}")
    digests: dict[str, list[bytes]] = {path: [] for path in sizes}
    expected = {
        _Resource(path, start, end, b"").name(hashing): path
        for path, size in sizes.items()
        for start, end in hashing.ranges(size)
    }
    seen: set[str] = set()
    ordered: list[tuple[_Resource, bytes]] = []
    for name, algorithm, digest_hex in resources:
        if algorithm != hashing.resource_algorithm:
            raise _fail(f"resource {name!r} is not a {hashing.resource_algorithm} digest")
        if not isinstance(name, str) or name not in expected or name in seen:
            raise _fail("signs a different file list than the seal")
        seen.add(name)
        try:
            digest = bytes.fromhex(digest_hex)
        except (TypeError, ValueError):
            raise _fail(f"resource {name!r} has a malformed digest") from None
        if len(digest) != _DIGEST_BYTES:
            raise _fail(f"resource {name!r} has a malformed digest")
        start, end = (0, 0)
        if hashing.shard_size:
            start, end = (int(part) for part in name.rsplit(":", 2)[1:])
        ordered.append((_Resource(expected[name], start, end, digest), digest))
    if seen != set(expected):
        raise _fail("signs a different file list than the seal")
    root_found = hashlib.sha256(b"".join(digest for _, digest in ordered)).hexdigest()
    if root != root_found:
        raise _fail("the statement's root digest does not match its resources")
    for resource, digest in sorted(ordered, key=lambda item: item[0].order()):
        digests[resource.path].append(digest)
    return {path: tuple(values) for path, values in digests.items()}
