"""Verify a TPM quote in Python: the AK's signature, the nonce, and the PCR digest.

The TPM signs a TPMS_ATTEST structure: magic ``TPM_GENERATED_VALUE`` (so the restricted AK
cannot be made to sign anything the TPM did not produce), type ``TPM_ST_ATTEST_QUOTE``, the
caller's nonce in ``extraData``, the PCR selection and the SHA-256 of the selected PCR
values concatenated in selection order. The facts returned here are what the unseal policy
reads; nothing in them comes from the device unverified.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sealgate.devices._tpm import PCR_BANK, Quote, tpm_module

TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_QUOTE = 0x8018
TPM_ALG_SHA256 = 0x000B


@dataclass(frozen=True)
class QuoteFacts:
    verified: bool
    nonce_fresh: bool
    pcr_bank: str
    pcrs: dict[str, str] = field(default_factory=dict)  # PCR index -> lowercase hex, verified
    problems: tuple[str, ...] = ()

    def as_input(self, device_id: str) -> dict[str, object]:
        return {
            "verified": self.verified,
            "nonce_fresh": self.nonce_fresh,
            "device_id": device_id,
            "pcr_bank": self.pcr_bank,
            "pcrs": self.pcrs if self.verified else {},
            "problems": list(self.problems),
        }


def _selected_pcrs(attest: object) -> list[int] | None:
    selection = attest.attested.quote.pcrSelect  # type: ignore[attr-defined]
    pcrs: list[int] = []
    for entry in selection:
        if int(entry.hash) != TPM_ALG_SHA256:
            return None
        select = bytes(entry.pcrSelect)[: entry.sizeofSelect]
        pcrs.extend(
            i * 8 + bit for i, byte in enumerate(select) for bit in range(8) if byte >> bit & 1
        )
    return pcrs


def verify_quote(
    quote: Quote, ak_public_pem: bytes, nonce: bytes, expected_pcrs: Sequence[int]
) -> QuoteFacts:
    """Check the quote; any failure yields ``verified=False`` with the reasons, never a pass."""
    problems: list[str] = []
    t = tpm_module()
    try:
        ak = serialization.load_pem_public_key(ak_public_pem)
        if not isinstance(ak, ec.EllipticCurvePublicKey) or ak.curve.name != "secp256r1":
            raise ValueError("attestation key is not ECC P-256")
        signature = encode_dss_signature(
            int.from_bytes(quote.signature_r, "big"), int.from_bytes(quote.signature_s, "big")
        )
        ak.verify(signature, quote.attest, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as exc:
        problems.append(
            f"quote signature does not verify with the enrolled AK: {exc or 'bad signature'}"
        )
        return QuoteFacts(False, False, PCR_BANK, problems=tuple(problems))

    try:
        attest, consumed = t.types.TPMS_ATTEST.unmarshal(quote.attest)
    except Exception as exc:  # malformed structure: the TPM never produced it
        return QuoteFacts(False, False, PCR_BANK, problems=(f"quote does not parse: {exc}",))
    if (
        consumed != len(quote.attest)
        or int(attest.magic) != TPM_GENERATED_VALUE
        or int(attest.type) != TPM_ST_ATTEST_QUOTE
    ):
        problems.append("signed structure is not a TPM-generated quote")
    nonce_fresh = hmac.compare_digest(bytes(attest.extraData), nonce)
    if not nonce_fresh:
        problems.append("quote does not carry this request's nonce (replayed or stale)")
    selected = _selected_pcrs(attest)
    if selected is None or sorted(selected) != sorted(set(expected_pcrs)):
        problems.append(
            f"quote covers PCRs {selected}, expected {PCR_BANK}:{sorted(set(expected_pcrs))}"
        )
    elif set(quote.pcr_values) != set(selected):
        problems.append("PCR values read do not match the quoted selection")
    else:
        digest = hashlib.sha256(b"".join(quote.pcr_values[p] for p in selected)).digest()
        if not hmac.compare_digest(digest, bytes(attest.attested.quote.pcrDigest)):
            problems.append("PCR values changed between the quote and the read (digest differs)")
    pcrs = {str(p): v.hex() for p, v in sorted(quote.pcr_values.items())}
    return QuoteFacts(not problems, nonce_fresh, PCR_BANK, pcrs, tuple(problems))
