"""EK certificates: the TPM manufacturer's statement that an endorsement key is a real TPM's.

The chain is validated with ``cryptography``'s X.509 path validation against the configured
manufacturer roots (CA certificates under the Web PKI profile's CA rules). EK certificates
themselves follow the TCG profile, not the Web PKI one (empty subject, a critical directory
name SAN, the EK-certificate EKU), so only their signature, validity and chain are checked
here, plus that they certify exactly the EK the device presented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from sealgate._paths import read_bounded
from sealgate.errors import InputError

MAX_ROOTS_BYTES = 1024 * 1024
MAX_CHAIN_DEPTH = 6


@dataclass(frozen=True)
class EkCertificateFacts:
    present: bool
    verified: bool
    issuer: str | None
    problems: tuple[str, ...] = ()

    def as_input(self) -> dict[str, object]:
        return {"present": self.present, "verified": self.verified, "issuer": self.issuer}


def load_certificates(paths: Sequence[Path], what: str) -> list[x509.Certificate]:
    """PEM bundles (one or more certificates each), e.g. the configured EK roots."""
    certificates: list[x509.Certificate] = []
    for path in paths:
        try:
            certificates.extend(
                x509.load_pem_x509_certificates(read_bounded(path, MAX_ROOTS_BYTES, what))
            )
        except ValueError as exc:
            raise InputError(f"{path}: not a PEM certificate bundle: {exc}") from None
    return certificates


def _same_key(certificate: x509.Certificate, ek_public_pem: bytes) -> bool:
    def spki(key: object) -> bytes:
        return key.public_bytes(  # type: ignore[attr-defined, no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    try:
        return spki(certificate.public_key()) == spki(
            serialization.load_pem_public_key(ek_public_pem)
        )
    except (ValueError, TypeError):  # unsupported key type in the certificate
        return False


def check_ek_certificate(
    der: bytes | None,
    ek_public_pem: bytes,
    *,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    now: datetime,
) -> EkCertificateFacts:
    """Facts about the EK certificate; anything that does not verify is ``verified: False``."""
    if der is None:
        return EkCertificateFacts(False, False, None)
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        return EkCertificateFacts(True, False, None, (f"EK certificate does not parse: {exc}",))
    issuer = certificate.issuer.rfc4514_string()
    if not _same_key(certificate, ek_public_pem):
        return EkCertificateFacts(
            True, False, issuer, ("EK certificate certifies another key than the EK",)
        )
    if not roots:
        return EkCertificateFacts(True, False, issuer, ("no EK manufacturer roots are configured",))
    verifier = (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(now)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(certificate, list(intermediates))
    except VerificationError as exc:
        return EkCertificateFacts(
            True, False, issuer, (f"EK certificate chain does not verify: {exc}",)
        )
    return EkCertificateFacts(True, True, issuer)
