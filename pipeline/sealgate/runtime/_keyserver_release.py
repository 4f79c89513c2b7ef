"""The consumer's side of key release: ask the service for one verified model's data key.

A workload sends the exact seal.json it verified, its workload-identity token (read afresh
from the token file: AKS rotates it) and an ephemeral HPKE public key; the answer opens only
with that key's private half, bound to this seal. A device asks for a challenge, quotes it in
its TPM and unwraps the answer in the TPM (``sealgate.devices`` provides that side). A
confidential workload also sends its attestation token; the answer is then wrapped to the
runtime key that token binds, whose private half never leaves the TEE. Nothing
here holds a key-encryption key: a consumer that skips this code gets ciphertext only.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sealgate.errors import InputError, VerificationError
from sealgate.keyserver._response_key import ResponseKey, release_context
from sealgate.keyserver._tee import RUNTIME_KEY_ALGORITHM, unwrap_with_runtime_key
from sealgate.runtime._client import KeyserverClient
from sealgate.sealing._header import HEADER_FILE
from sealgate.sealing._paths import open_regular_nofollow
from sealgate.sealing._verify import VerifiedSeal

TOKEN_FILE_ENV = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 - a variable name
MAX_TOKEN_BYTES = 16 * 1024
MAX_SEAL_BYTES = 2 * 1024 * 1024


class ReleaseDevice(Protocol):
    """The device side (``sealgate.devices.open_release_device(prefix)``)."""

    device_id: str

    def quote(self, nonce: bytes, pcrs: Sequence[int], pcr_bank: str) -> dict[str, Any]: ...

    def unwrap_released(self, answer: Mapping[str, Any], context: bytes) -> bytes: ...


def open_release_device(prefix: Path) -> ReleaseDevice:
    from sealgate.devices import open_release_device as opener

    device: ReleaseDevice = opener(prefix)
    return device


@dataclass(frozen=True)
class TeeProof:
    """A confidential workload's evidence: its attestation token (MAA) and the private half of
    the runtime key that token binds; the service wraps the data key to that key."""

    token_file: Path
    runtime_key_file: Path

    def token(self) -> str:
        return read_token(self.token_file)

    def runtime_key(self) -> rsa.RSAPrivateKey:
        try:
            key = serialization.load_pem_private_key(
                self.runtime_key_file.read_bytes(), password=None
            )
        except (OSError, ValueError, TypeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not an unencrypted PEM key"
            raise InputError(
                f"{self.runtime_key_file}: cannot load the runtime key: {reason}"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InputError(f"{self.runtime_key_file}: the runtime key must be an RSA key")
        return key


def read_token(path: Path | None) -> str:
    if path is None:
        env = os.environ.get(TOKEN_FILE_ENV)
        if not env:
            raise InputError(
                f"a workload needs --token-file or {TOKEN_FILE_ENV} (its identity token)"
            )
        path = Path(env)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TOKEN_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the identity token: {exc.strerror}") from None
    token = data.decode("ascii", errors="replace").strip()
    if not token or len(data) > MAX_TOKEN_BYTES:
        raise InputError(f"{path}: not an identity token")
    return token


def _verified_seal_bytes(verified: VerifiedSeal) -> bytes:
    """seal.json as verified: read again and compared by digest, so what is sent is what was
    checked."""
    fd = open_regular_nofollow(verified.sealed_dir / HEADER_FILE)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_SEAL_BYTES + 1)
    if "sha256:" + hashlib.sha256(data).hexdigest() != verified.digest:
        raise VerificationError(f"{HEADER_FILE} changed after it was verified")
    return data


def _b64(text: object, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except ValueError:
        raise VerificationError(f"the key server's {what} is not base64") from None


class KeyserverRelease:
    """``key_release`` hook of ``unseal_model``: the data key of the verified model, or an
    error (``DeniedError`` for a denial, ``UnavailableError`` for an outage)."""

    def __init__(
        self,
        client: KeyserverClient,
        environment: str,
        *,
        token_file: Path | None = None,
        device: ReleaseDevice | None = None,
        tee: TeeProof | None = None,
    ) -> None:
        if tee is not None and device is not None:
            raise InputError("an attestation token goes with a workload token, not with --device")
        self._client = client
        self._environment = environment
        self._token_file = token_file
        self._device = device
        self._tee = tee
        self.record: str | None = None

    def __call__(self, verified: VerifiedSeal) -> bytes:
        seal = base64.b64encode(_verified_seal_bytes(verified)).decode("ascii")
        body: dict[str, Any] = {"environment": self._environment, "seal": seal}
        if self._device is None:
            token = read_token(self._token_file)
            response_key = ResponseKey.generate()
            body["response_key"] = response_key.public_document()
            runtime_private = None
            if self._tee is not None:
                runtime_private = self._tee.runtime_key()
                body["attestation_token"] = self._tee.token()
            answer = self._client.post("/v1/release", body, bearer=token)
            context = release_context(verified.header.seal_id, verified.digest.encode())
            if answer.get("algorithm") == RUNTIME_KEY_ALGORITHM:
                if runtime_private is None:
                    raise VerificationError("the key server wrapped the key to a TEE runtime key")
                data_key = unwrap_with_runtime_key(
                    runtime_private, str(answer.get("wrapped_key")), context
                )
            else:
                data_key = response_key.open(
                    _b64(answer.get("wrapped_key"), "wrapped_key"), context
                )
        else:
            challenge = self._client.post("/v1/challenges", {"device_id": self._device.device_id})
            nonce = _b64(challenge.get("nonce"), "nonce")
            pcrs = challenge.get("pcrs")
            if not isinstance(pcrs, list) or not all(isinstance(p, int) for p in pcrs):
                raise VerificationError("the key server's challenge names no PCRs to quote")
            quote = self._device.quote(nonce, pcrs, str(challenge.get("pcr_bank", "sha256")))
            body["device"] = {
                "id": self._device.device_id,
                "nonce": challenge["nonce"],
                "quote": quote,
            }
            answer = self._client.post("/v1/release", body)
            data_key = self._device.unwrap_released(
                answer, release_context(verified.header.seal_id, nonce)
            )
        record = answer.get("record")
        self.record = record if isinstance(record, str) else None
        return data_key
