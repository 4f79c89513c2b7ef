"""Streaming AEAD: AES-256-GCM over fixed-size chunks, in the STREAM construction.

Each file gets its own key and 7-byte nonce prefix, derived with HKDF-SHA256 from the seal's
random data key; the HKDF info names the seal, the file's index and its path, so a chunk moved
to another file or another seal does not decrypt. The 12-byte nonce of chunk ``i`` is
``prefix (7) || i (4, big-endian) || last (1)``, as in Tink's streaming AEAD: reordered chunks
fail on the counter, a truncated file fails on the last-chunk flag. Every file has at least
one chunk, so an empty file still carries a tag.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealgate.errors import VerificationError
from sealgate.sealing._canonical import canonical_json

AEAD_ALGORITHM = "AES-256-GCM"
KDF_ALGORITHM = "HKDF-SHA256"
STREAM_CONSTRUCTION = "STREAM-nonce-prefix7-counter32-last8"
DATA_KEY_BYTES = 32
TAG_BYTES = 16
NONCE_PREFIX_BYTES = 7
MAX_CHUNKS = 2**32
_KEY_INFO_LABEL = b"sealgate.seal/v1 file-key\x00"


def chunk_count(plaintext_size: int, chunk_size: int) -> int:
    return max(1, -(-plaintext_size // chunk_size))


def ciphertext_size(plaintext_size: int, chunk_size: int) -> int:
    return plaintext_size + chunk_count(plaintext_size, chunk_size) * TAG_BYTES


class FileCipher:
    """The per-file key and nonce prefix; encrypts and decrypts chunk ``counter``."""

    def __init__(self, data_key: bytes, seal_id: bytes, index: int, path: str) -> None:
        info = _KEY_INFO_LABEL + canonical_json({"index": index, "path": path})
        material = HKDF(
            algorithm=hashes.SHA256(),
            length=DATA_KEY_BYTES + NONCE_PREFIX_BYTES,
            salt=seal_id,
            info=info,
        ).derive(data_key)
        self._aead = AESGCM(material[:DATA_KEY_BYTES])
        self._prefix = material[DATA_KEY_BYTES:]
        self._path = path

    def _nonce(self, counter: int, last: bool) -> bytes:
        if not 0 <= counter < MAX_CHUNKS:
            raise VerificationError(f"{self._path}: too many chunks for the stream nonce")
        return self._prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")

    def encrypt_chunk(self, counter: int, last: bool, plaintext: bytes) -> bytes:
        return self._aead.encrypt(self._nonce(counter, last), plaintext, None)

    def encrypt_chunk_into(
        self, counter: int, last: bool, plaintext: memoryview, out: memoryview
    ) -> None:
        """Like ``encrypt_chunk`` into ``out``, which is exactly ``len(plaintext) + TAG_BYTES``."""
        self._aead.encrypt_into(self._nonce(counter, last), plaintext, None, out)

    def decrypt_chunk(self, counter: int, last: bool, ciphertext: bytes) -> bytes:
        try:
            return self._aead.decrypt(self._nonce(counter, last), ciphertext, None)
        except InvalidTag:
            raise self._tampered(counter) from None

    def decrypt_chunk_into(
        self, counter: int, last: bool, ciphertext: memoryview, out: memoryview
    ) -> None:
        """Like ``decrypt_chunk`` into ``out``; on failure ``out`` must be discarded."""
        try:
            self._aead.decrypt_into(self._nonce(counter, last), ciphertext, None, out)
        except InvalidTag:
            raise self._tampered(counter) from None

    def _tampered(self, counter: int) -> VerificationError:
        return VerificationError(
            f"{self._path}: chunk {counter} fails authentication (tampered, reordered "
            "or truncated ciphertext)"
        )
