"""``local`` recipients: hybrid post-quantum HPKE, ML-KEM-768 + X25519 (RFC 9180 suite).

``cryptography`` has no file format for the hybrid key itself, so a key file holds its two
standard halves as consecutive PEM blocks, ML-KEM-768 first, then X25519: PKCS#8
``PRIVATE KEY`` blocks in ``.key``, SubjectPublicKeyInfo ``PUBLIC KEY`` blocks in ``.pub``.
The key id is the SHA-256 of the two SubjectPublicKeyInfo DER encodings, concatenated.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from sealgate.errors import InputError, VerificationError
from sealgate.sealing._keyfiles import KeyPairPaths, read_key_file, write_key_pair
from sealgate.sealing.recipients._base import Identity, Recipient, RecipientType, WrappedKey

TYPE_NAME = "local"
ALGORITHM = "HPKE-MLKEM768X25519-HKDF-SHA256-AES-256-GCM"
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_PEM_BLOCK = re.compile(
    rb"-----BEGIN (PRIVATE|PUBLIC) KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1 KEY-----"
)


def _pem_blocks(data: bytes, kind: bytes, source: Path) -> list[bytes]:
    blocks = [m for m in _PEM_BLOCK.finditer(data)]
    if len(blocks) != 2 or any(m.group(1) != kind for m in blocks):
        raise InputError(
            f"{source}: expected two PEM {kind.decode().lower()} key blocks "
            "(ML-KEM-768, then X25519)"
        )
    return [m.group(0) for m in blocks]


def _spki_der(key: mlkem.MLKEM768PublicKey | x25519.X25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_id(mlkem_key: mlkem.MLKEM768PublicKey, x25519_key: x25519.X25519PublicKey) -> str:
    return hashlib.sha256(_spki_der(mlkem_key) + _spki_der(x25519_key)).hexdigest()


def generate_recipient_key(prefix: Path) -> KeyPairPaths:
    mlkem_key = mlkem.MLKEM768PrivateKey.generate()
    x25519_key = x25519.X25519PrivateKey.generate()
    private_pem = b"".join(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        for key in (mlkem_key, x25519_key)
    )
    public_pem = b"".join(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for key in (mlkem_key, x25519_key)
    )
    return write_key_pair(prefix, private_pem, public_pem)


class LocalRecipient(Recipient):
    type_name = TYPE_NAME

    def __init__(self, path: Path) -> None:
        mlkem_pem, x25519_pem = _pem_blocks(read_key_file(path), b"PUBLIC", path)
        try:
            mlkem_key = serialization.load_pem_public_key(mlkem_pem)
            x25519_key = serialization.load_pem_public_key(x25519_pem)
        except (ValueError, TypeError):
            raise InputError(f"{path}: unreadable recipient public key") from None
        if not isinstance(mlkem_key, mlkem.MLKEM768PublicKey) or not isinstance(
            x25519_key, x25519.X25519PublicKey
        ):
            raise InputError(f"{path}: expected an ML-KEM-768 and an X25519 public key")
        self._public_key = hpke.MLKEM768X25519PublicKey(mlkem_key, x25519_key)
        self.key_id = _key_id(mlkem_key, x25519_key)

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        wrapped = _SUITE.encrypt(data_key, self._public_key, info=context)
        return WrappedKey(TYPE_NAME, self.key_id, ALGORITHM, wrapped)


class LocalIdentity(Identity):
    type_name = TYPE_NAME

    def __init__(self, path: Path) -> None:
        mlkem_pem, x25519_pem = _pem_blocks(read_key_file(path), b"PRIVATE", path)
        try:
            mlkem_key = serialization.load_pem_private_key(mlkem_pem, password=None)
            x25519_key = serialization.load_pem_private_key(x25519_pem, password=None)
        except (ValueError, TypeError):
            raise InputError(f"{path}: unreadable recipient private key") from None
        if not isinstance(mlkem_key, mlkem.MLKEM768PrivateKey) or not isinstance(
            x25519_key, x25519.X25519PrivateKey
        ):
            raise InputError(f"{path}: expected an ML-KEM-768 and an X25519 private key")
        self._private_key = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
        self.key_id = _key_id(mlkem_key.public_key(), x25519_key.public_key())

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        if wrapped.algorithm != ALGORITHM:
            raise VerificationError(f"local recipient: unsupported algorithm {wrapped.algorithm}")
        try:
            return _SUITE.decrypt(wrapped.wrapped, self._private_key, info=context)
        except Exception:  # any failure to open the HPKE ciphertext is a denial
            raise VerificationError(
                f"the data key wrapped for recipient {self.key_id[:16]} does not open with this "
                "identity"
            ) from None


class LocalRecipientType(RecipientType):
    name = TYPE_NAME
    # Development keys, outside the enforcement boundary: whoever holds the .key file can
    # decrypt without sealgate, so the unseal policy runs only when --environment is given.
    requires_unseal_policy = False

    def recipient(self, value: str) -> Recipient:
        return LocalRecipient(Path(value))

    def identity(self, value: str) -> Identity:
        return LocalIdentity(Path(value))
