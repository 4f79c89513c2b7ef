"""The seal header: everything a sealed model claims, signed as canonical JSON in a DSSE envelope.

The header binds the format version, model name and version, every file (relative path,
plaintext size, ciphertext size and digest), the cipher parameters, every recipient's
wrapped data key, the SHA-256 of the plaintext signature ``model.sig`` and the hashing that
signature uses; and, optionally (absent from seals made before scanning), the scan of every
file (``sealgate.scanning``). A header without ``hashing`` predates the choice: SHA-256 per file.
Parsing is strict: unknown fields, wrong types and unsafe paths are rejected as tampering.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sealgate.errors import VerificationError
from sealgate.scanning._results import ModelScan, ScanFormatError, parse_model_scan
from sealgate.sealing import _stream as stream
from sealgate.sealing._canonical import JSONValue, canonical_json
from sealgate.sealing._oms import SHA256_SHARDS, Hashing
from sealgate.sealing._paths import check_header_path, check_no_prefix_conflicts
from sealgate.sealing.recipients import WrappedKey

FORMAT = "sealgate.seal/v1"
PAYLOAD_TYPE = "application/vnd.sealgate.seal.v1+json"
HEADER_FILE = "seal.json"
SIGNATURE_FILE = "model.sig"
PAYLOAD_DIR = "payload"
CIPHERTEXT_DIGESTS = ("blake3", "sha256")
MIN_CHUNK_SIZE = 16
MAX_CHUNK_SIZE = 64 * 1024 * 1024
MAX_FILES = 1_000_000
MAX_RECIPIENTS = 64
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@/-]{0,199}")
SEAL_ID_BYTES = 16


def ciphertext_name(index: int) -> str:
    """Where file ``index`` lives in a sealed directory; derived, never read from the header."""
    return f"{PAYLOAD_DIR}/{index:06d}.enc"


def name_problem(value: str) -> str | None:
    if not _NAME.fullmatch(value):
        return "use 1-200 characters from A-Z a-z 0-9 . _ + @ / -, starting alphanumeric"
    return None


@dataclass(frozen=True)
class SealedFile:
    index: int
    path: str
    size: int
    ciphertext_size: int
    ciphertext_digest: str


@dataclass(frozen=True)
class SealHeader:
    model_name: str
    model_version: str
    seal_id: bytes
    chunk_size: int
    ciphertext_digest_algorithm: str
    signature_sha256: str
    files: tuple[SealedFile, ...]
    recipients: tuple[WrappedKey, ...]
    scan: ModelScan | None = None  # None: sealed before scanning (the promotion gate says so)
    hashing: Hashing = field(default_factory=Hashing)  # the OMS serialization of model.sig
    # False only for a header from before the choice existed (SHA-256 per file, not written).
    hashing_recorded: bool = True

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def total_ciphertext_size(self) -> int:
        return sum(f.ciphertext_size for f in self.files)

    def data_key_context(self) -> bytes:
        """HPKE ``info`` for wrapping the data key: ties each wrapped key to this seal."""
        return b"sealgate.seal/v1 data-key\x00" + self.seal_id

    def to_payload(self) -> bytes:
        document: dict[str, JSONValue] = {
            "format": FORMAT,
            "model": {"name": self.model_name, "version": self.model_version},
            "seal_id": self.seal_id.hex(),
            "cipher": {
                "aead": stream.AEAD_ALGORITHM,
                "kdf": stream.KDF_ALGORITHM,
                "stream": stream.STREAM_CONSTRUCTION,
                "chunk_size": self.chunk_size,
                "tag_size": stream.TAG_BYTES,
            },
            "ciphertext_digest": self.ciphertext_digest_algorithm,
            "signature": {"path": SIGNATURE_FILE, "sha256": self.signature_sha256},
            "files": [
                {
                    "index": f.index,
                    "path": f.path,
                    "size": f.size,
                    "ciphertext": {
                        "path": ciphertext_name(f.index),
                        "size": f.ciphertext_size,
                        "digest": f.ciphertext_digest,
                    },
                }
                for f in self.files
            ],
            "recipients": [
                {
                    "type": r.type,
                    "key_id": r.key_id,
                    "algorithm": r.algorithm,
                    "wrapped_key": base64.b64encode(r.wrapped).decode("ascii"),
                    "params": dict(r.params),
                }
                for r in self.recipients
            ],
        }
        if self.hashing_recorded:
            document["hashing"] = _hashing_document(self.hashing)
        if self.scan is not None:
            document["scan"] = self.scan.to_json()
        return canonical_json(document)


def _hashing_document(hashing: Hashing) -> dict[str, JSONValue]:
    document: dict[str, JSONValue] = {"method": hashing.method}
    if hashing.shard_size is not None:
        document["shard_size"] = hashing.shard_size
    return document


def _parse_hashing(raw: Any) -> Hashing:
    method = raw.get("method") if isinstance(raw, dict) else None
    keys = {"method", "shard_size"} if method == SHA256_SHARDS else {"method"}
    entry = _fields(raw, keys, "hashing")
    hashing = Hashing(_str(entry["method"], "hashing.method"), entry.get("shard_size"))
    if hashing.shard_size is not None:
        _int(hashing.shard_size, "hashing.shard_size", 1, 1 << 62)
    problem = hashing.problem()
    if problem:
        raise VerificationError(f"seal header: unsupported hashing ({problem})")
    return hashing


def _fields(value: Any, keys: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise VerificationError(f"seal header: {where} does not have the expected fields")
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise VerificationError(f"seal header: {where} is not an integer in [{low}, {high}]")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise VerificationError(f"seal header: {where} is not a string")
    return value


def _hex64(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise VerificationError(f"seal header: {where} is not a lowercase hex SHA-256")
    return value


def _expect(value: Any, expected: object, where: str) -> None:
    if value != expected or type(value) is not type(expected):
        raise VerificationError(f"seal header: unsupported {where} {value!r}")


def _parse_file(raw: Any, position: int, chunk_size: int) -> SealedFile:
    where = f"files[{position}]"
    entry = _fields(raw, {"index", "path", "size", "ciphertext"}, where)
    index = _int(entry["index"], f"{where}.index", position, position)
    path = check_header_path(entry["path"])
    size = _int(entry["size"], f"{where}.size", 0, (stream.MAX_CHUNKS - 1) * chunk_size)
    ciphertext = _fields(entry["ciphertext"], {"path", "size", "digest"}, f"{where}.ciphertext")
    _expect(ciphertext["path"], ciphertext_name(index), f"{where}.ciphertext.path")
    expected_size = stream.ciphertext_size(size, chunk_size)
    _expect(ciphertext["size"], expected_size, f"{where}.ciphertext.size")
    digest = _hex64(ciphertext["digest"], f"{where}.ciphertext.digest")
    return SealedFile(index, path, size, expected_size, digest)


def _parse_recipient(raw: Any, position: int) -> WrappedKey:
    where = f"recipients[{position}]"
    entry = _fields(raw, {"type", "key_id", "algorithm", "wrapped_key", "params"}, where)
    params = entry["params"]
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        raise VerificationError(f"seal header: {where}.params is not a string map")
    try:
        wrapped = base64.b64decode(
            _str(entry["wrapped_key"], f"{where}.wrapped_key"), validate=True
        )
    except (binascii.Error, ValueError):
        raise VerificationError(f"seal header: {where}.wrapped_key is not base64") from None
    return WrappedKey(
        type=_str(entry["type"], f"{where}.type"),
        key_id=_str(entry["key_id"], f"{where}.key_id"),
        algorithm=_str(entry["algorithm"], f"{where}.algorithm"),
        wrapped=wrapped,
        params=MappingProxyType(dict(params)),
    )


def _optional_fields(document: Any) -> set[str]:
    return {"scan", "hashing"} & set(document) if isinstance(document, dict) else set()


def _parse_scan(raw: Any, paths: list[str]) -> ModelScan | None:
    if raw is None:
        return None
    try:
        return parse_model_scan(raw, paths)
    except ScanFormatError as exc:
        raise VerificationError(f"seal header: {exc}") from None


def parse_header(payload: bytes) -> SealHeader:
    """Parse an authenticated header payload; it must be in canonical form."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerificationError("seal header: payload is not JSON") from None
    top = _fields(
        document,
        {
            "format",
            "model",
            "seal_id",
            "cipher",
            "ciphertext_digest",
            "signature",
            "files",
            "recipients",
        }
        | _optional_fields(document),
        "the header",
    )
    _expect(top["format"], FORMAT, "format")
    model = _fields(top["model"], {"name", "version"}, "model")
    name = _str(model["name"], "model.name")
    version = _str(model["version"], "model.version")
    if name_problem(name) or name_problem(version):
        raise VerificationError("seal header: malformed model name or version")
    seal_id_hex = _str(top["seal_id"], "seal_id")
    if not re.fullmatch(rf"[0-9a-f]{{{2 * SEAL_ID_BYTES}}}", seal_id_hex):
        raise VerificationError("seal header: malformed seal_id")
    cipher = _fields(top["cipher"], {"aead", "kdf", "stream", "chunk_size", "tag_size"}, "cipher")
    _expect(cipher["aead"], stream.AEAD_ALGORITHM, "cipher.aead")
    _expect(cipher["kdf"], stream.KDF_ALGORITHM, "cipher.kdf")
    _expect(cipher["stream"], stream.STREAM_CONSTRUCTION, "cipher.stream")
    _expect(cipher["tag_size"], stream.TAG_BYTES, "cipher.tag_size")
    chunk_size = _int(cipher["chunk_size"], "cipher.chunk_size", MIN_CHUNK_SIZE, MAX_CHUNK_SIZE)
    digest_algorithm = _str(top["ciphertext_digest"], "ciphertext_digest")
    if digest_algorithm not in CIPHERTEXT_DIGESTS:
        raise VerificationError(f"seal header: unsupported ciphertext digest {digest_algorithm!r}")
    signature = _fields(top["signature"], {"path", "sha256"}, "signature")
    _expect(signature["path"], SIGNATURE_FILE, "signature.path")
    raw_files = top["files"]
    if not isinstance(raw_files, list) or not 1 <= len(raw_files) <= MAX_FILES:
        raise VerificationError("seal header: files is not a non-empty list")
    files = tuple(_parse_file(raw, i, chunk_size) for i, raw in enumerate(raw_files))
    paths = [f.path for f in files]
    if paths != sorted(paths):
        raise VerificationError("seal header: files are not in path order")
    check_no_prefix_conflicts(paths)
    raw_recipients = top["recipients"]
    if not isinstance(raw_recipients, list) or not 1 <= len(raw_recipients) <= MAX_RECIPIENTS:
        raise VerificationError("seal header: recipients is not a non-empty list")
    header = SealHeader(
        model_name=name,
        model_version=version,
        seal_id=bytes.fromhex(seal_id_hex),
        chunk_size=chunk_size,
        ciphertext_digest_algorithm=digest_algorithm,
        signature_sha256=_hex64(signature["sha256"], "signature.sha256"),
        files=files,
        recipients=tuple(_parse_recipient(raw, i) for i, raw in enumerate(raw_recipients)),
        scan=_parse_scan(top.get("scan"), paths),
        # Seals made before the choice existed hash per file with SHA-256, the default.
        hashing=_parse_hashing(top["hashing"]) if "hashing" in top else Hashing(),
        hashing_recorded="hashing" in top,
    )
    if header.to_payload() != payload:
        raise VerificationError("seal header: payload is not in canonical form")
    return header
