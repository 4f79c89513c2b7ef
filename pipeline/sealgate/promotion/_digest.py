"""The digest of a sealed model: what every stage pointer, approval and evidence file names.

It is ``sha256:<hex>`` of the exact bytes of ``seal.json``: the signed header binds every
other byte of the sealed model (``model.sig`` by digest, each ciphertext by size and digest),
so these bytes identify the whole sealed model.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sealgate._paths import read_bounded
from sealgate.errors import InputError
from sealgate.sealing._header import HEADER_FILE
from sealgate.sealing._verify import MAX_HEADER_BYTES

DIGEST_PREFIX = "sha256:"
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


def digest_of_bytes(data: bytes) -> str:
    return DIGEST_PREFIX + hashlib.sha256(data).hexdigest()


def sealed_model_digest(sealed_dir: Path) -> str:
    """``sha256:<hex>`` of ``SEALED_DIR/seal.json`` (not a verification: see ``verify_sealed``)."""
    header = sealed_dir / HEADER_FILE
    if not header.is_file():
        raise InputError(f"{sealed_dir}: not a sealed model (no {HEADER_FILE})")
    return digest_of_bytes(read_bounded(header, MAX_HEADER_BYTES, HEADER_FILE))


def check_digest(value: str, where: str) -> str:
    if not isinstance(value, str) or not DIGEST_PATTERN.match(value):
        raise InputError(f"{where}: {value!r} is not a digest like sha256:<64 hex>")
    return value
