"""Signed OPA bundles of the policy tree: build, and verify before anyone loads them.

The archive is what ``opa build`` produces (``.manifest``, Rego modules, ``data.json`` files
under their data paths), plus ``.signatures.json`` in OPA's bundle signing format: one JWT
(ES256) whose ``files`` claim lists every other file with its SHA-256 and whose ``scope`` claim
names what the signer allows (OPA's ``signing.scope``). As in OPA, a structured
file (``.manifest``, ``data.json``) is hashed over its parsed JSON with object keys sorted, so
whitespace does not matter; everything else is hashed as bytes. Archives are reproducible:
entries are sorted and carry no times, owners or modes beyond 0644.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from sealgate._files import replace_file
from sealgate.errors import InputError, VerificationError
from sealgate.policy._loader import DATA_NAMESPACE, PolicySet
from sealgate.policy._opa_batch import BATCH_FILE, BATCH_MODULE, BATCH_ROOT
from sealgate.policy._revision import policy_revision

MANIFEST = ".manifest"
SIGNATURES = ".signatures.json"
DATA_FILE = "data.json"
POLICY_ROOT = "sealgate"
ROOTS = (POLICY_ROOT, DATA_NAMESPACE, BATCH_ROOT)
ALGORITHM = "ES256"
HASH_ALGORITHM = "SHA-256"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 16 * 1024 * 1024
DEFAULT_KEY_ID = "sealgate"
DEFAULT_SCOPE = "write"


@dataclass(frozen=True)
class BundleSummary:
    revision: str
    roots: tuple[str, ...]
    files: tuple[str, ...]
    key_id: str
    scope: str


class _Number(str):
    """A JSON number kept as written: OPA hashes numbers by their literal text."""


def _encode_primitive(value: Any) -> str:
    if isinstance(value, _Number):
        return str(value)
    text = json.dumps(value, ensure_ascii=False)
    # Go's encoder (which OPA hashes with) escapes these two; Python's does not.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _walk(value: Any, sink: Any) -> None:
    if isinstance(value, dict):
        sink.update(b"{")
        for index, key in enumerate(sorted(value)):
            if index:
                sink.update(b",")
            sink.update(_encode_primitive(key).encode())
            sink.update(b":")
            _walk(value[key], sink)
        sink.update(b"}")
    elif isinstance(value, list):
        sink.update(b"[")
        for index, item in enumerate(value):
            if index:
                sink.update(b",")
            _walk(item, sink)
        sink.update(b"]")
    else:
        sink.update(_encode_primitive(value).encode())


def file_hash(name: str, content: bytes) -> str:
    """The hex SHA-256 OPA expects for bundle file ``name`` with ``content``."""
    digest = hashlib.sha256()
    if PurePosixPath(name).name in {MANIFEST, DATA_FILE}:
        try:
            value = json.loads(content, parse_int=_Number, parse_float=_Number)
        except ValueError as exc:
            raise VerificationError(f"bundle file {name} is not valid JSON: {exc}") from exc
        _walk(value, digest)
    else:
        digest.update(content)
    return digest.hexdigest()


def bundle_files(policy_set: PolicySet, revision: str) -> dict[str, bytes]:
    """Every file of the bundle by name: manifest, policies (no tests), data documents."""
    files: dict[str, bytes] = {}
    for module in policy_set.policy_modules:
        relative = Path(module.file).resolve().relative_to(policy_set.root.resolve())
        files[relative.as_posix()] = module.source.encode()
    files[BATCH_FILE] = BATCH_MODULE.encode()  # one request per input (see _opa_batch)
    for stem, document in sorted(policy_set.data[DATA_NAMESPACE].items()):
        files[f"{DATA_NAMESPACE}/{stem}/{DATA_FILE}"] = _json_bytes(document)
    manifest = {
        "revision": revision,
        "roots": list(ROOTS),
        "rego_version": 1,
        "metadata": {"name": "sealgate"},
    }
    files[MANIFEST] = _json_bytes(manifest)
    return files


def build_bundle(
    policy_set: PolicySet,
    out: Path,
    signing_key: ec.EllipticCurvePrivateKey,
    *,
    key_id: str = DEFAULT_KEY_ID,
    scope: str = DEFAULT_SCOPE,
    revision: str | None = None,
) -> BundleSummary:
    revision = revision or policy_revision(policy_set)
    files = bundle_files(policy_set, revision)
    claims: dict[str, Any] = {
        "files": [
            {"name": name, "hash": file_hash(name, content), "algorithm": HASH_ALGORITHM}
            for name, content in sorted(files.items())
        ]
    }
    if scope:
        claims["scope"] = scope
    token = jwt.encode(claims, signing_key, algorithm=ALGORITHM, headers={"kid": key_id})
    files[SIGNATURES] = _json_bytes({"signatures": [token]})
    _write_archive(out, files)
    return BundleSummary(revision, ROOTS, tuple(sorted(files)), key_id, scope)


def verify_bundle(
    path: Path,
    public_key: ec.EllipticCurvePublicKey,
    *,
    key_id: str = DEFAULT_KEY_ID,
    scope: str = DEFAULT_SCOPE,
) -> BundleSummary:
    """Check the signature, its key id and scope, and every file, as OPA configured with
    ``signing: {keyid: key_id, scope: scope}`` does; raise VerificationError naming the
    first problem.

    OPA verifies with the configured key whatever ``kid`` the token names; a ``kid`` naming
    another key is refused here all the same, since the signer meant another key. As in OPA,
    the token's ``scope`` must equal ``scope`` exactly (an absent claim matches only ``""``).
    """
    files = dict(_read_archive(path))
    try:
        signatures = json.loads(files.pop(SIGNATURES))["signatures"]
    except KeyError:
        raise VerificationError(f"{path}: unsigned bundle (no {SIGNATURES})") from None
    except (ValueError, TypeError) as exc:
        raise VerificationError(f"{path}: {SIGNATURES} is malformed") from exc
    if (
        not isinstance(signatures, list)
        or len(signatures) != 1
        or not isinstance(signatures[0], str)
    ):
        raise VerificationError(f"{path}: {SIGNATURES} must hold exactly one JWT")
    token = signatures[0]
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(
            token, public_key, algorithms=[ALGORITHM], options={"verify_aud": False}
        )
    except jwt.PyJWTError as exc:
        raise VerificationError(f"{path}: bundle signature does not verify: {exc}") from exc
    signed_kid = header.get("kid") or claims.get("keyid") or key_id
    if signed_kid != key_id:
        raise VerificationError(f"{path}: signed with key id {signed_kid!r}, expected {key_id!r}")
    signed_scope = claims.get("scope", "")
    if signed_scope != scope:
        raise VerificationError(
            f"{path}: bundle signature scope {signed_scope!r} does not match {scope!r}"
        )
    listed = {
        entry.get("name"): entry for entry in claims.get("files", []) if isinstance(entry, dict)
    }
    for name in sorted(files):
        entry = listed.pop(name, None)
        if entry is None:
            raise VerificationError(f"{path}: {name} is not covered by the bundle signature")
        if entry.get("algorithm") != HASH_ALGORITHM:
            raise VerificationError(f"{path}: {name} is signed with {entry.get('algorithm')!r}")
        if entry.get("hash") != file_hash(name, files[name]):
            raise VerificationError(f"{path}: {name} does not match its signed digest")
    if listed:
        raise VerificationError(
            f"{path}: signed file(s) missing from the bundle: "
            f"{', '.join(sorted(str(name) for name in listed))}"
        )
    manifest = _manifest(path, files)
    return BundleSummary(
        str(manifest.get("revision", "")),
        tuple(manifest.get("roots", [])),
        tuple(sorted(files)),
        signed_kid,
        scope,
    )


def _manifest(path: Path, files: dict[str, bytes]) -> dict[str, Any]:
    try:
        manifest = json.loads(files[MANIFEST])
    except KeyError:
        raise VerificationError(f"{path}: no {MANIFEST}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("roots"), list):
        raise VerificationError(f"{path}: {MANIFEST} must be an object with roots")
    return manifest


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _write_archive(out: Path, files: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    # Reproducible: fixed order, no timestamps in tar headers or in the gzip header.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name in sorted(files):
            info = tarfile.TarInfo(f"/{name}")
            info.size = len(files[name])
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(files[name]))
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        replace_file(out, buffer.getvalue())
    except OSError as exc:
        raise InputError(f"{out}: cannot write bundle: {exc.strerror or exc}") from exc


def _read_archive(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read bundle: {exc.strerror or exc}") from exc
    if size > MAX_BUNDLE_BYTES:
        raise InputError(f"{path}: bundle larger than {MAX_BUNDLE_BYTES} bytes")
    seen: set[str] = set()
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                name = member.name.lstrip("/")
                parts = PurePosixPath(name).parts
                if not member.isfile() or not parts or ".." in parts:
                    raise VerificationError(f"{path}: unsafe bundle entry {member.name!r}")
                if member.size > MAX_MEMBER_BYTES:
                    raise VerificationError(f"{path}: bundle entry {name} is too large")
                if name in seen:
                    raise VerificationError(f"{path}: bundle entry {name} appears twice")
                seen.add(name)
                extracted = archive.extractfile(member)
                yield name, extracted.read() if extracted else b""
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise VerificationError(f"{path}: not a readable bundle archive: {exc}") from exc
