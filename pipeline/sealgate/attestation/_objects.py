"""TPM public areas and attestation structures as the service receives them (no TPM needed).

A device describes its keys by their TPM2B_PUBLIC areas; the TPM binds every object to its
*name* (nameAlg || H(TPMT_PUBLIC)), so the attributes checked here are the ones the TPM
enforces for the object that signs, activates or computes ECDH under that name.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sealgate.devices._tpm import tpm_module
from sealgate.errors import InputError

TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_CERTIFY = 0x8017
MAX_SIGNATURE_PART = 66


@dataclass(frozen=True)
class TpmPublic:
    """A parsed TPM2B_PUBLIC: its marshalled bytes, name and PEM public key."""

    raw: bytes
    area: Any  # tpm2_pytss TPM2B_PUBLIC
    name: bytes
    pem: bytes


def parse_public(raw: bytes, what: str) -> TpmPublic:
    t = tpm_module()
    try:
        area, consumed = t.types.TPM2B_PUBLIC.unmarshal(raw)
        if consumed != len(raw):
            raise ValueError("trailing bytes")
        name = bytes(area.get_name())
        pem = bytes(area.to_pem())
    except Exception as exc:  # tpm2-pytss raises several types for malformed input
        raise InputError(f"{what}: not a TPM2B_PUBLIC: {exc}") from None
    return TpmPublic(raw, area, name, pem)


def _attributes(public: TpmPublic) -> int:
    return int(public.area.publicArea.objectAttributes)


def _require(public: TpmPublic, what: str, present: int, absent: int) -> None:
    t = tpm_module()
    attributes = _attributes(public)
    if int(public.area.publicArea.nameAlg) != int(t.constants.TPM2_ALG.SHA256):
        raise InputError(f"{what}: name algorithm is not SHA-256")
    missing = present & ~attributes
    forbidden = absent & attributes
    if missing or forbidden:
        raise InputError(
            f"{what}: object attributes {t.constants.TPMA_OBJECT(attributes)!s} "
            f"(missing {t.constants.TPMA_OBJECT(missing)!s}, "
            f"not allowed {t.constants.TPMA_OBJECT(forbidden)!s})"
        )


def _require_p256(public: TpmPublic, what: str) -> None:
    t = tpm_module()
    area = public.area.publicArea
    if int(area.type) != int(t.constants.TPM2_ALG.ECC) or int(
        area.parameters.eccDetail.curveID
    ) != int(t.constants.TPM2_ECC.NIST_P256):
        raise InputError(f"{what}: not an ECC NIST P-256 key")


def _fixed() -> int:
    attrs = tpm_module().constants.TPMA_OBJECT
    return int(attrs.FIXEDTPM | attrs.FIXEDPARENT | attrs.SENSITIVEDATAORIGIN)


def check_endorsement_key(public: TpmPublic) -> None:
    """An EK: a restricted decryption (storage-type) key that never leaves its TPM."""
    attrs = tpm_module().constants.TPMA_OBJECT
    _require(
        public,
        "EK",
        _fixed() | int(attrs.RESTRICTED | attrs.DECRYPT),
        int(attrs.SIGN_ENCRYPT),
    )


def check_attestation_key(public: TpmPublic) -> None:
    """An AK: a restricted ECDSA P-256 signing key made in and bound to its TPM."""
    attrs = tpm_module().constants.TPMA_OBJECT
    _require(
        public,
        "AK",
        _fixed() | int(attrs.RESTRICTED | attrs.SIGN_ENCRYPT),
        int(attrs.DECRYPT),
    )
    _require_p256(public, "AK")


def check_device_key(public: TpmPublic) -> None:
    """The device key: an unrestricted P-256 decryption (ECDH) key made in and bound to its TPM."""
    attrs = tpm_module().constants.TPMA_OBJECT
    _require(
        public,
        "device key",
        _fixed() | int(attrs.DECRYPT),
        int(attrs.RESTRICTED | attrs.SIGN_ENCRYPT),
    )
    _require_p256(public, "device key")


def verify_ecdsa(public_pem: bytes, message: bytes, r: bytes, s: bytes) -> bool:
    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    signature = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def check_certification(
    attest: bytes, r: bytes, s: bytes, *, ak: TpmPublic, certified: TpmPublic
) -> None:
    """A TPM2_Certify by the AK of the object named like ``certified``: both are loaded in
    the TPM that holds the AK. Raises ``InputError`` with the reason otherwise."""
    if len(r) > MAX_SIGNATURE_PART or len(s) > MAX_SIGNATURE_PART:
        raise InputError("device key certification: signature is too long")
    if not verify_ecdsa(ak.pem, attest, r, s):
        raise InputError("device key certification: signature does not verify with the AK")
    t = tpm_module()
    try:
        parsed, consumed = t.types.TPMS_ATTEST.unmarshal(attest)
    except Exception as exc:
        raise InputError(f"device key certification: does not parse: {exc}") from None
    if (
        consumed != len(attest)
        or int(parsed.magic) != TPM_GENERATED_VALUE
        or int(parsed.type) != TPM_ST_ATTEST_CERTIFY
    ):
        raise InputError("device key certification: not a TPM-generated certification")
    if not hmac.compare_digest(bytes(parsed.attested.certify.name), certified.name):
        raise InputError("device key certification: certifies another object")


def make_credential(ek: TpmPublic, secret: bytes, ak: TpmPublic) -> tuple[bytes, bytes]:
    """TPM2_MakeCredential in software: (credential blob, encrypted seed), both marshalled.

    Only the TPM holding the EK's private key recovers the seed, and it releases ``secret``
    only to an object loaded in it under the AK's name."""
    t = tpm_module()
    try:
        blob, encrypted = t.utils.make_credential(ek.area, secret, ak.name)
    except (ValueError, TypeError) as exc:
        raise InputError(f"EK: cannot make a credential for it: {exc}") from None
    return bytes(blob.marshal()), bytes(encrypted.marshal())
