"""The plaintext signature: an OpenSSF model-signing (OMS) bundle built from sealing digests.

The manifest is made with model_signing's own classes from the SHA-256 digests computed while
encrypting, so nothing is hashed twice, and ``model_signing verify key`` accepts the unsealed
directory. The serialization recorded is model_signing's default for ``sign key``: files,
SHA-256, no symlinks, git metadata and ``model.sig`` ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import manifest
from model_signing._hashing import hashing
from model_signing._signing import sign_ec_key, sign_sigstore_pb, signing
from sigstore_models.bundle import v1 as bundle_pb

from sealgate.errors import VerificationError
from sealgate.sealing._paths import IGNORED_TOP_LEVEL

_HASH = "sha256"


class _KeySigner(sign_ec_key.Signer):
    """model_signing's EC signer, given a loaded key instead of a path to read again."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._private_key = private_key


class _KeyVerifier(sign_ec_key.Verifier):
    def __init__(self, public_key: ec.EllipticCurvePublicKey) -> None:
        self._public_key = public_key


def _serialization() -> manifest.SerializationType:
    # Single top-level names: every Path flavour records them as the same string.
    return manifest._FileSerialization(
        _HASH, allow_symlinks=False, ignore_paths=[Path(p) for p in IGNORED_TOP_LEVEL]
    )


def build_signature(
    model_name: str, digests: Mapping[str, bytes], private_key: ec.EllipticCurvePrivateKey
) -> bytes:
    """An OMS bundle (JSON bytes) over ``digests``: relative path -> SHA-256 of the plaintext."""
    items = [
        manifest.FileManifestItem(path=PurePosixPath(path), digest=hashing.Digest(_HASH, digest))
        for path, digest in digests.items()
    ]
    payload = signing.Payload(manifest.Manifest(model_name, items, _serialization()))
    signature = _KeySigner(private_key).sign(payload)
    assert isinstance(signature, sign_sigstore_pb.Signature)
    return signature.bundle.to_json().encode("utf-8")


def signed_digests(data: bytes, public_key: ec.EllipticCurvePublicKey) -> dict[str, bytes]:
    """Verify an OMS bundle with ``public_key``; return its path -> SHA-256 digests."""
    try:
        document: Any = json.loads(data)
        bundle = bundle_pb.Bundle.from_dict(document)
        key_identifier = bundle.verification_material.public_key
        if key_identifier is None:  # a certificate-signed bundle, not the key-signed kind
            raise ValueError("no public key identifier")
        hint = key_identifier.hint
    except Exception:  # any parse failure of the bundle is a malformed signature
        raise VerificationError("model.sig: not an OpenSSF model-signing bundle") from None
    if not hint:
        raise VerificationError("model.sig: the bundle does not name its public key")
    try:
        expected = _KeyVerifier(public_key).verify(sign_sigstore_pb.Signature(bundle))
    except Exception:  # model_signing reports every verification failure as some exception
        raise VerificationError(
            "model.sig: signature does not verify with the signer key"
        ) from None
    parameters = expected.serialization_type
    if parameters.get("method") != "files" or parameters.get("hash_type") != _HASH:
        raise VerificationError("model.sig: expected a per-file SHA-256 manifest")
    digests: dict[str, bytes] = {}
    for descriptor in expected.resource_descriptors():
        if descriptor.digest.algorithm != _HASH:
            raise VerificationError("model.sig: a resource is not a SHA-256 digest")
        digests[descriptor.identifier] = descriptor.digest.digest_value
    return digests
