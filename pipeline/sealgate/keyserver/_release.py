"""The release decision: verify what the consumer sent, gather facts, ask the policy, record,
and only then unwrap one model's data key with the environment's KEK and wrap it to the
consumer.

Order (limits and shape checks first, the KEK last): the request's shape and sizes; the seal
header's signature against the service's trust data (the ciphertexts are not needed: the
header binds them, and the consumer verifies them); the consumer (bearer token or device
quote); the stage pointer of the environment's stage with its high-water mark; the unseal
policy; one signed audit record; the unwrap; the answer. A deny never reaches the unwrap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import DeniedError, InputError, SealgateError, VerificationError
from sealgate.keyserver._devices import DeviceAttestation, DevicesUnavailable
from sealgate.keyserver._pointers import HighWaterMarks, pointer_facts
from sealgate.keyserver._response_key import ALGORITHM as WORKLOAD_ALGORITHM
from sealgate.keyserver._response_key import (
    parse_response_key,
    release_context,
    wrap_for_workload,
)
from sealgate.keyserver._tee import RUNTIME_KEY_ALGORITHM, runtime_key, wrap_for_runtime_key
from sealgate.keyserver._tokens import TokenError, TokenVerifier, workload_facts
from sealgate.runtime._authorization import Decision
from sealgate.sealing import _envelope as envelope
from sealgate.sealing._canonical import canonical_json
from sealgate.sealing._header import PAYLOAD_TYPE, SealHeader, parse_header
from sealgate.sealing._trust import TrustPolicy
from sealgate.sealing.recipients import Identity

MAX_SEAL_BYTES = 2 * 1024 * 1024
MAX_SIGNATURE_BYTES = 2 * 1024 * 1024
_REQUEST_FIELDS = {
    "environment",
    "seal",
    "signature",
    "response_key",
    "device",
    "attestation_token",
}


class Denied(DeniedError):
    """HTTP 403: the policy (or a fact it needs) denied; ``reasons`` name the rules."""

    def __init__(self, reasons: tuple[str, ...], record: str | None = None) -> None:
        super().__init__("denied: " + "; ".join(reasons))
        self.reasons = reasons
        self.record = record


class Unavailable(SealgateError):
    """HTTP 503: a dependency (Key Vault, registry, OPA, issuer keys) failed; nothing released."""


class UnsealDecider(Protocol):
    """The unseal policy as the service uses it (``UnsealPolicy``, one per thread)."""

    def stage_for(self, environment: str) -> str | None: ...
    def attested_pcrs(self) -> list[int]: ...
    def pcr_bank(self) -> str: ...
    def decide(self, document: dict[str, Any]) -> Decision: ...


@dataclass(frozen=True)
class VerifiedHeader:
    header: SealHeader
    digest: str
    signer_name: str
    signer_key_id: str


def _b64(value: object, what: str, limit: int) -> bytes:
    if not isinstance(value, str) or len(value) > limit * 4 // 3 + 4:
        raise InputError(f"{what} must be base64 of at most {limit} bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not base64") from None


def verify_header(seal_bytes: bytes, trust: TrustPolicy, now: datetime) -> VerifiedHeader:
    """The signed seal header, verified as ``verify_sealed`` does, without the payload."""
    opened = envelope.open_envelope(seal_bytes, PAYLOAD_TYPE)
    signer = trust.signer_for(opened.key_id, now)
    header = parse_header(opened.verify(signer.public_key))
    digest = "sha256:" + hashlib.sha256(seal_bytes).hexdigest()
    return VerifiedHeader(header, digest, signer.name, signer.key_id)


@dataclass
class ReleaseService:
    service_id: str
    trust: TrustPolicy
    policy: UnsealDecider
    registry: Any  # sealgate.promotion.Registry: pointers and the audit log
    keks: Mapping[str, Identity]  # environment -> the KEK identity that unwraps
    signing_key: ec.EllipticCurvePrivateKey
    gate_keys: list[Any]
    marks: HighWaterMarks
    tokens: TokenVerifier
    devices: DeviceAttestation | None
    tee: Callable[[str], dict[str, Any]] | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def close(self) -> None:
        """Drop the policy engine on its own thread; a later decision loads it again."""
        close = getattr(self.policy, "close", None)
        if callable(close):
            close()

    # --- request -----------------------------------------------------------------------

    def release(self, body: Mapping[str, Any], bearer: str | None) -> dict[str, Any]:
        unknown = set(body) - _REQUEST_FIELDS
        if unknown:
            raise InputError(f"unknown request field(s): {', '.join(sorted(unknown))}")
        environment = body.get("environment")
        if not isinstance(environment, str) or environment not in self.keks:
            raise InputError(f"environment {environment!r} is not served by this key server")
        seal_bytes = _b64(body.get("seal"), "seal", MAX_SEAL_BYTES)
        device = body.get("device")
        if device is None:
            response_key = parse_response_key(body.get("response_key"))
            if not bearer:
                raise TokenError("a workload authenticates with Authorization: Bearer <token>")
        elif not isinstance(device, dict):
            raise InputError("device must be an object {id, nonce, quote}")
        token = body.get("attestation_token")
        if token is not None and not isinstance(token, str):
            raise InputError("attestation_token must be a string")

        signature = body.get("signature")
        signature_bytes = (
            None if signature is None else _b64(signature, "signature", MAX_SIGNATURE_BYTES)
        )
        try:
            verified = verify_header(seal_bytes, self.trust, self.now())
            if signature_bytes is not None and (
                hashlib.sha256(signature_bytes).hexdigest() != verified.header.signature_sha256
            ):
                raise VerificationError("model.sig does not match the seal header")
        except VerificationError as exc:
            raise Denied((f"seal: {exc}",)) from None

        if device is None:
            assert bearer is not None
            consumer = workload_facts(self.tokens.verify(bearer))
            attestation = None
        else:
            if self.devices is None:
                raise DevicesUnavailable("device attestation is not available in this key server")
            consumer, attestation = self.devices.verify_device(
                device, pcrs=self.policy.attested_pcrs(), pcr_bank=self.policy.pcr_bank()
            )
        document = self._facts(verified, environment, consumer, attestation, token)
        wrapped_for_kek = self._recipient(verified.header, environment)
        decision = self.policy.decide(document)
        reasons = decision.reasons
        if wrapped_for_kek is None:
            reasons = (
                *reasons,
                f"SG-KEYSERVER-001: the sealed model has no recipient for the KEK of {environment}",
            )
        record = self._record(verified, environment, consumer, document, decision.revision, reasons)
        if reasons:
            raise Denied(reasons, record)
        assert wrapped_for_kek is not None
        data_key = self._unwrap(environment, verified.header, wrapped_for_kek)
        if device is None:
            context = release_context(verified.header.seal_id, verified.digest.encode())
            tee_key = runtime_key(document["tee"]) if document.get("tee") else None
            if tee_key is not None:
                # A verified TEE gets the key wrapped to its own runtime key from the token,
                # never to a key the caller sent: a replayed token is useless to its replayer.
                return {
                    "wrapped_key": wrap_for_runtime_key(tee_key, data_key, context),
                    "algorithm": RUNTIME_KEY_ALGORITHM,
                    "record": record,
                }
            wrapped = wrap_for_workload(response_key, data_key, context)
            return {
                "wrapped_key": base64.b64encode(wrapped).decode("ascii"),
                "algorithm": WORKLOAD_ALGORITHM,
                "record": record,
            }
        assert self.devices is not None
        nonce = _b64(device.get("nonce"), "device.nonce", 256)
        answer = self.devices.wrap_for_device(
            str(consumer.get("id")), data_key, release_context(verified.header.seal_id, nonce)
        )
        return {
            "wrapped_key": answer["wrapped"],
            "algorithm": answer["algorithm"],
            "record": record,
        }

    # --- facts -------------------------------------------------------------------------

    def _facts(
        self,
        verified: VerifiedHeader,
        environment: str,
        consumer: dict[str, Any],
        attestation: dict[str, Any] | None,
        token: str | None,
    ) -> dict[str, Any]:
        header = verified.header
        stage = self.policy.stage_for(environment)
        if stage is None:
            registry: dict[str, Any] = {"checked": False, "stages": [], "pointer": None}
        else:
            try:
                registry = pointer_facts(
                    self.registry, stage, header.model_name, verified.digest,
                    gate_keys=self.gate_keys, marks=self.marks,
                )  # fmt: skip
            except (InputError, OSError) as exc:
                raise Unavailable(f"registry: {exc}") from None
        tee = None
        if token is not None:
            tee = self.tee(token) if self.tee else {"verified": False, "issuer": None, "claims": {},
                                                      "problems": ["no attestation token verifier"]}  # fmt: skip
        return {
            "model": {
                "name": header.model_name,
                "version": header.model_version,
                "digest": verified.digest,
                "signer": {"name": verified.signer_name, "key_id": verified.signer_key_id},
            },
            "environment": environment,
            "consumer": consumer,
            "attestation": attestation,
            "tee": tee,
            "registry": registry,
        }

    def _recipient(self, header: SealHeader, environment: str) -> Any:
        identity = self.keks[environment]
        return next((w for w in header.recipients if identity.matches(w)), None)

    def _record(
        self,
        verified: VerifiedHeader,
        environment: str,
        consumer: Mapping[str, Any],
        document: dict[str, Any],
        revision: str,
        reasons: tuple[str, ...],
    ) -> str:
        from sealgate.promotion._audit import Decision, append_record
        from sealgate.promotion._identity import verified_registry_id

        who = consumer.get("id") or consumer.get("subject") or consumer.get("object_id")
        request: dict[str, Any] = {
            "name": verified.header.model_name,
            "version": verified.header.model_version,
            "digest": verified.digest,
            "environment": environment,
            "consumer": f"{consumer.get('type')}:{who}",
        }
        try:
            registry_id = verified_registry_id(self.registry, self.gate_keys)
            if registry_id is None:
                raise VerificationError(
                    "registry: it has no identity (registry.json), so no record can name it"
                )
            return append_record(
                self.registry,
                Decision(
                    actor=f"keyserver:{self.service_id}",
                    action="release",
                    decision="deny" if reasons else "allow",
                    request=request,
                    input_digest="sha256:"
                    + hashlib.sha256(canonical_json(_json_ready(document))).hexdigest(),
                    policy_revision=revision,
                    reasons=reasons,
                ),
                self.signing_key,
                registry_id=registry_id,
                trusted_keys=self.gate_keys,
            )
        except (SealgateError, OSError) as exc:
            # No record, no key: an unrecorded release is not a release (a log the writer
            # refuses to append to after damage (AuditDamagedError), a registry without a
            # gate-signed identity, a head signed by an unknown key included).
            raise Unavailable(f"audit log: {exc}") from None

    def _unwrap(self, environment: str, header: SealHeader, wrapped: Any) -> bytes:
        try:
            data_key = self.keks[environment].unwrap(wrapped, header.data_key_context())
        except SealgateError as exc:
            # The service's own KEK failing (vault down, role missing) is an outage, not a
            # denial of the consumer: nothing is released either way.
            raise Unavailable(f"KEK of {environment}: {exc}") from None
        if len(data_key) != 32:
            raise Unavailable(f"KEK of {environment}: unwrapped a key of the wrong length")
        return data_key


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
