"""``tpm`` recipients: an edge device's TPM key (ECC P-256); the data key is unwrapped inside it.

Wrapping (public key only): an ephemeral P-256 key agreement with the device key (ECDH-ES),
HKDF-SHA256 over the shared secret bound to the seal (its data-key context), the device key
id and the ephemeral point, then AES-256 key wrap (RFC 3394). The wrapped entry holds the
ephemeral point (65 bytes, uncompressed) followed by the wrapped key. Unwrapping runs
TPM2_ECDH_ZGen with the ephemeral point inside the TPM: the device's private key never
leaves it. ``tpm:PREFIX.pub`` seals; ``tpm:PREFIX`` (the enrolment) unseals, on the TPM named
by ``SEALGATE_TPM_TCTI`` or else by the enrolment's TCTI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from sealgate.errors import InputError, VerificationError
from sealgate.sealing._keyfiles import read_key_file
from sealgate.sealing.recipients._base import Identity, Recipient, RecipientType, WrappedKey

TYPE_NAME = "tpm"
ALGORITHM = "ECDH-ES-P256+HKDF-SHA256+A256KW"
TCTI_ENV = "SEALGATE_TPM_TCTI"
_POINT_BYTES = 65


def _kek(shared_x: bytes, context: bytes, key_id: str, ephemeral_point: bytes) -> bytes:
    info = b"sealgate tpm ECDH-ES\x00" + context + b"\x00" + key_id.encode() + ephemeral_point
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(shared_x)


def wrap_to_device_key(
    public_key: ec.EllipticCurvePublicKey, key_id: str, data_key: bytes, context: bytes
) -> bytes:
    """The wrapped entry for a P-256 device key: ephemeral point (65 bytes) || AES-KW output."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    shared = ephemeral.exchange(ec.ECDH(), public_key)
    return point + aes_key_wrap(_kek(shared, context, key_id, point), data_key)


def unwrap_with_ecdh(
    ecdh: Callable[[bytes, bytes], bytes], key_id: str, wrapped: bytes, context: bytes
) -> bytes:
    """Open a ``wrap_to_device_key`` entry; ``ecdh(x, y)`` runs the key agreement in the TPM.

    Raises ``VerificationError`` if the entry is malformed or does not open with that key.
    """
    if len(wrapped) <= _POINT_BYTES:
        raise VerificationError("tpm recipient: the wrapped key is truncated")
    point = wrapped[:_POINT_BYTES]
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise VerificationError("tpm recipient: the ephemeral point is not on P-256") from None
    numbers = ephemeral.public_numbers()
    shared = ecdh(numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big"))
    try:
        return aes_key_unwrap(_kek(shared, context, key_id, point), wrapped[_POINT_BYTES:])
    except InvalidUnwrap:
        raise VerificationError(
            f"the data key wrapped for device {key_id[:16]} does not open with this TPM"
        ) from None


def _device_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(read_key_file(path))
    except ValueError:
        raise InputError(f"{path}: unreadable device public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InputError(f"{path}: expected an ECC P-256 device public key (from device enroll)")
    return key


class TpmRecipient(Recipient):
    type_name = TYPE_NAME

    def __init__(self, path: Path) -> None:
        from sealgate.devices._enrollment import spki_key_id

        self._public_key = _device_public_key(path)
        self.key_id = spki_key_id(read_key_file(path))

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        wrapped = wrap_to_device_key(self._public_key, self.key_id, data_key, context)
        return WrappedKey(TYPE_NAME, self.key_id, ALGORITHM, wrapped)


class TpmIdentity(Identity):
    type_name = TYPE_NAME

    def __init__(self, prefix: Path) -> None:
        from sealgate.devices._enrollment import load_enrollment

        self._enrollment = load_enrollment(prefix)
        self.key_id = self._enrollment.device_id
        self.tcti = os.environ.get(TCTI_ENV) or self._enrollment.tcti

    def consumer(self) -> dict[str, object]:
        return {"type": "device", "device_id": self.key_id}

    def attestation(self, pcrs: Sequence[int]) -> dict[str, object]:
        from sealgate.devices._quote import verify_quote
        from sealgate.devices._tpm import open_tpm

        nonce = secrets.token_bytes(32)
        with open_tpm(self.tcti) as device:
            quote = device.quote(self._enrollment.keys, pcrs, nonce)
        facts = verify_quote(quote, self._enrollment.ak_public_pem, nonce, pcrs)
        return {**facts.as_input(self.key_id), "ak_key_id": self._enrollment.ak_key_id}

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        from sealgate.devices._tpm import open_tpm

        if wrapped.algorithm != ALGORITHM:
            raise VerificationError(f"tpm recipient: unsupported wrapped key {wrapped.algorithm}")
        with open_tpm(self.tcti) as device:
            keys = self._enrollment.keys
            try:
                return unwrap_with_ecdh(
                    lambda x, y: device.ecdh(keys, x, y), self.key_id, wrapped.wrapped, context
                )
            except VerificationError as exc:
                raise VerificationError(f"{exc} (TPM at {self.tcti})") from None


class TpmRecipientType(RecipientType):
    name = TYPE_NAME

    def recipient(self, value: str) -> Recipient:
        return TpmRecipient(Path(value))

    def identity(self, value: str) -> Identity:
        return TpmIdentity(Path(value))
