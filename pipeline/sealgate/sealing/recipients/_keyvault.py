"""``keyvault`` recipients: an HSM-backed Azure Key Vault RSA key; only Key Vault unwraps.

Sealing needs the public part only: ``keyvault:https://VAULT.vault.azure.net/keys/NAME/VERSION``
fetches it with ``get_key`` (needs ``keys/get``), and ``keyvault:URL#PUBLIC.pem`` (a PEM or JWK
export of the public part) seals offline. The key id URL, with its version, is recorded.

The data key is not sent to the vault as is: a random 32-byte key-encryption key is wrapped
with RSA-OAEP-256 (Key Vault's ``unwrapKey`` reverses it) and the data key is AES-key-wrapped
under HKDF-SHA256 of it, bound to the seal's data-key context, so a wrapped entry cannot be
moved to another seal. ``keyvault:URL`` unwraps through ``CryptographyClient.unwrap_key`` with
``DefaultAzureCredential`` (workload identity in AKS, managed identity, developer logins).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlparse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap,
)

from sealgate.errors import DeniedError, InputError, UnavailableError, VerificationError
from sealgate.sealing._keyfiles import read_key_file
from sealgate.sealing.recipients._base import Identity, Recipient, RecipientType, WrappedKey

TYPE_NAME = "keyvault"
ALGORITHM = "RSA-OAEP-256+HKDF-SHA256+A256KW"
_KEK_BYTES = 32
_WRAPPED_DATA_KEY_BYTES = 40  # AES key wrap of a 32-byte key


@dataclass
class KeyVaultAccess:
    """How to reach Key Vault: a credential and extra SDK client options (transport, TLS)."""

    credential_factory: Callable[[], Any] | None = None
    client_options: dict[str, Any] = field(default_factory=dict)

    def credential(self) -> Any:
        if self.credential_factory is not None:
            return self.credential_factory()
        from sealgate._azure import azure_credential

        # AKS workload identity where present, else DefaultAzureCredential.
        return azure_credential()


# Replaced only by callers that must reach a non-Azure endpoint (the REST stand-in in tests).
DEFAULT_ACCESS = KeyVaultAccess()


@dataclass(frozen=True)
class KeyUrl:
    url: str  # https://VAULT/keys/NAME/VERSION
    vault: str
    name: str
    version: str

    @property
    def scope(self) -> str:
        host = urlparse(self.vault).hostname or ""
        if host.endswith(".managedhsm.azure.net"):
            return "https://managedhsm.azure.net/.default"
        return "https://vault.azure.net/.default"


def parse_key_url(value: str) -> KeyUrl:
    parsed = urlparse(value)
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.scheme != "https" or not parsed.netloc or len(parts) != 3 or parts[0] != "keys":
        raise InputError(
            f"keyvault key {value!r}: expected https://VAULT.vault.azure.net/keys/NAME/VERSION "
            "(a versioned key id, so that every seal names the exact key it used)"
        )
    vault = f"https://{parsed.netloc}"
    return KeyUrl(f"{vault}/keys/{parts[1]}/{parts[2]}", vault, parts[1], parts[2])


def _b64url_bytes(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64url(value: str) -> int:
    return int.from_bytes(_b64url_bytes(value), "big")


def _load_public_key(path: Path) -> rsa.RSAPublicKey:
    data = read_key_file(path)
    try:
        if data.lstrip().startswith(b"{"):
            jwk = json.loads(data)
            if jwk.get("kty") not in {"RSA", "RSA-HSM"}:
                raise ValueError("not an RSA JWK")
            key: Any = rsa.RSAPublicNumbers(_b64url(jwk["e"]), _b64url(jwk["n"])).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path}: unreadable Key Vault public key (PEM or JWK)") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise InputError(f"{path}: expected an RSA public key of at least 2048 bits")
    return key


def _kek(secret: bytes, context: bytes, key_url: str) -> bytes:
    info = b"sealgate keyvault\x00" + context + b"\x00" + key_url.encode()
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(secret)


def _sdk_error(exc: Exception, key: KeyUrl, action: str) -> Exception:
    """One line naming the vault, the key and what was asked of it; 401/403 are denials.

    ``action`` is what was asked, worded to follow "cannot": e.g. ``read the public key of``
    or ``unwrap the data key with``; the key's name and version complete it.
    """
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    from sealgate._azure import is_outage

    status = getattr(exc, "status_code", None)
    reason = " ".join(str(getattr(exc, "message", "") or exc).split())[:300]
    asked = f"{action} key {key.name} version {key.version}"
    if is_outage(exc):
        answer = f"HTTP {status}: " if isinstance(status, int) else ""
        return UnavailableError(
            f"Key Vault {key.vault}: cannot {asked}: the service (or its token endpoint) did "
            f"not answer usably ({answer}{reason[:200]}); retry later"
        )
    if isinstance(exc, ClientAuthenticationError) and status is None:
        return DeniedError(
            f"Key Vault {key.vault}: cannot {asked}: no credential could get a token ({reason})"
        )
    if isinstance(exc, HttpResponseError) and status in (401, 403) and action == "release":
        return DeniedError(
            f"Key Vault {key.vault} denied the request to {asked} (HTTP {status}): this identity "
            f"may not release it or the attestation token fails its release policy ({reason})"
        )
    if isinstance(exc, HttpResponseError) and status in (401, 403):
        return DeniedError(
            f"Key Vault {key.vault} denied the request to {asked} (HTTP {status}): "
            "this identity is not allowed to use the key"
        )
    if isinstance(exc, HttpResponseError) and status == 404:
        return InputError(f"Key Vault {key.vault}: key {key.name} version {key.version} not found")
    return InputError(f"Key Vault {key.vault}: cannot {asked}: {reason or type(exc).__name__}")


class _RsaMembers(Protocol):
    """The RSA members of azure-keyvault-keys' ``JsonWebKey``; None for another key type."""

    e: bytes | None
    n: bytes | None


def fetch_public_key(key: KeyUrl, access: KeyVaultAccess) -> rsa.RSAPublicKey:
    from azure.core.exceptions import AzureError
    from azure.keyvault.keys import KeyClient

    try:
        client = KeyClient(key.vault, access.credential(), **access.client_options)
        # JsonWebKey sets its members with setattr from a name list, so its class declares none.
        jwk = cast(_RsaMembers, client.get_key(key.name, key.version).key)
        if jwk.e is None or jwk.n is None:
            raise ValueError("not an RSA key")
        return rsa.RSAPublicNumbers(
            int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")
        ).public_key()
    except (AzureError, ValueError) as exc:
        raise _sdk_error(exc, key, "read the public key of") from None


class KeyVaultRecipient(Recipient):
    type_name = TYPE_NAME

    def __init__(self, value: str, access: KeyVaultAccess | None = None) -> None:
        url, _, public_path = value.partition("#")
        self._key = parse_key_url(url)
        self.key_id = self._key.url
        if public_path:
            self._public_key = _load_public_key(Path(public_path))
        else:
            self._public_key = fetch_public_key(self._key, access or DEFAULT_ACCESS)

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        secret = secrets.token_bytes(_KEK_BYTES)
        oaep = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        encrypted_secret = self._public_key.encrypt(secret, oaep)
        wrapped = aes_key_wrap(_kek(secret, context, self.key_id), data_key)
        return WrappedKey(TYPE_NAME, self.key_id, ALGORITHM, encrypted_secret + wrapped)


def _token_claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


class KeyVaultIdentity(Identity):
    type_name = TYPE_NAME

    def __init__(self, value: str, access: KeyVaultAccess | None = None) -> None:
        self._key = parse_key_url(value.partition("#")[0])
        self.key_id = self._key.url
        self._access = access or DEFAULT_ACCESS
        self._credential: Any = None

    def _get_credential(self) -> Any:
        if self._credential is None:
            self._credential = self._access.credential()
        return self._credential

    def consumer(self) -> dict[str, object]:
        """The workload's identity: claims of the token its credential gets for Key Vault.

        The signature is not checked here; Key Vault checks this same credential's token at
        unwrap, so claims that were not genuine would release nothing.
        """
        from azure.core.exceptions import AzureError

        try:
            token = self._get_credential().get_token(self._key.scope).token
        except AzureError as exc:
            raise _sdk_error(exc, self._key, "get a token to use") from None
        claims = _token_claims(token)
        return {
            "type": "workload",
            "key_id": self.key_id,
            "vault": self._key.vault,
            "tenant_id": claims.get("tid"),
            "object_id": claims.get("oid"),
            "client_id": claims.get("appid") or claims.get("azp"),
            "subject": claims.get("sub"),
            "issuer": claims.get("iss"),
        }

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        from azure.core.exceptions import AzureError
        from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm

        if wrapped.algorithm != ALGORITHM or len(wrapped.wrapped) <= _WRAPPED_DATA_KEY_BYTES:
            raise VerificationError(
                f"keyvault recipient: unsupported wrapped key {wrapped.algorithm}"
            )
        encrypted_secret = wrapped.wrapped[:-_WRAPPED_DATA_KEY_BYTES]
        try:
            client = CryptographyClient(
                self._key.url, self._get_credential(), **self._access.client_options
            )
            secret = client.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, encrypted_secret).key
        except AzureError as exc:
            raise _sdk_error(exc, self._key, "unwrap the data key with") from None
        try:
            return aes_key_unwrap(
                _kek(secret, context, self.key_id), wrapped.wrapped[-_WRAPPED_DATA_KEY_BYTES:]
            )
        except InvalidUnwrap:
            raise VerificationError(
                f"the data key wrapped for {self.key_id} does not open with what Key Vault returned"
            ) from None


# Key Vault's algorithms for protecting released key material (KeyReleaseParameters.enc): an
# ephemeral AES key encrypted with RSA-OAEP to the target's runtime key, then the key material
# wrapped with AES key wrap with padding (RFC 5649) under it.
_RELEASE_OAEP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "CKM_RSA_AES_KEY_WRAP": hashes.SHA1,
    "RSA_AES_KEY_WRAP_256": hashes.SHA256,
    "RSA_AES_KEY_WRAP_384": hashes.SHA384,
}
RELEASE_ALGORITHMS = frozenset(_RELEASE_OAEP_HASHES)
_MAX_RELEASE_CHARS = 256 * 1024


@dataclass(frozen=True)
class ReleasedKey:
    """Key Vault's answer to Secure Key Release: an exportable key wrapped to a TEE's key.

    ``value`` is the signed release object (a JWS) to relay to the TEE as it is; the other
    fields are read from it: the released key's id, the protection algorithm, the key id
    (``kid`` of ``x-ms-runtime.keys`` in the attestation token) the material is wrapped
    to, and the wrapped material itself. Nobody but the holder of that runtime key, inside
    the TEE, can open it (``open_released_key``).
    """

    value: str
    key_id: str
    algorithm: str
    target_key_id: str
    ciphertext: bytes


def _json_segment(segment: str) -> Any:
    return json.loads(_b64url_bytes(segment))


def parse_release(value: object, key: KeyUrl, algorithm: str) -> ReleasedKey:
    """Read Key Vault's release object; refuse one for another key or another algorithm.

    Its JWS signature is Key Vault's, for the TEE that receives it; the service reads it
    from the vault over TLS, which is what authenticates it here.
    """
    problem = f"Key Vault {key.vault} answered a release of key {key.name} version {key.version}"
    if not isinstance(value, str) or len(value) > _MAX_RELEASE_CHARS or value.count(".") != 2:
        raise VerificationError(f"{problem} that is not a signed release object")
    try:
        payload = _json_segment(value.split(".")[1])
        jwk = payload["response"]["key"]["key"]
        key_hsm = _json_segment(jwk["key_hsm"])
        header = key_hsm["header"]
        released = ReleasedKey(
            value,
            str(jwk["kid"]),
            str(header["enc"]),
            str(header["kid"]),
            _b64url_bytes(key_hsm["ciphertext"]),
        )
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        raise VerificationError(f"{problem} without wrapped key material (key_hsm)") from None
    if released.key_id != key.url:
        raise VerificationError(f"{problem} for another key: {released.key_id}")
    if released.algorithm != algorithm:
        raise VerificationError(f"{problem} protected with {released.algorithm}, not {algorithm}")
    return released


def release_key(
    key: KeyUrl,
    attestation_token: str,
    access: KeyVaultAccess,
    *,
    algorithm: str = "CKM_RSA_AES_KEY_WRAP",
    nonce: str | None = None,
) -> ReleasedKey:
    """Secure Key Release: present a TEE's attestation token for an exportable key.

    Key Vault checks the token against the key's release policy (its authority and claims)
    and wraps the key material to the runtime key the token carries; the caller needs the
    ``keys/release`` permission (Key Vault Crypto Service Release User) and never sees the
    material. 403 from the vault (not allowed, or the token fails the release policy) is a
    denial.
    """
    from azure.core.exceptions import AzureError
    from azure.keyvault.keys import KeyClient

    if algorithm not in RELEASE_ALGORITHMS:
        raise InputError(
            f"release algorithm {algorithm!r}: expected one of {', '.join(sorted(RELEASE_ALGORITHMS))}"
        )
    try:
        client = KeyClient(key.vault, access.credential(), **access.client_options)
        result = client.release_key(
            key.name, attestation_token, version=key.version, algorithm=algorithm, nonce=nonce
        )
    except AzureError as exc:
        raise _sdk_error(exc, key, "release") from None
    return parse_release(result.value, key, algorithm)


def open_released_key(released: ReleasedKey, runtime_private_key: rsa.RSAPrivateKey) -> bytes:
    """Inside the TEE: the released key material (PKCS#8 DER for an RSA key) from its answer."""
    hash_type = _RELEASE_OAEP_HASHES.get(released.algorithm)
    size = runtime_private_key.key_size // 8
    if hash_type is None or len(released.ciphertext) <= size:
        raise VerificationError(f"released key {released.key_id}: unsupported wrapped material")
    oaep = padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)
    try:
        transport_key = runtime_private_key.decrypt(released.ciphertext[:size], oaep)
        return aes_key_unwrap_with_padding(transport_key, released.ciphertext[size:])
    except (ValueError, InvalidUnwrap):
        raise VerificationError(
            f"released key {released.key_id} does not open with this runtime key"
        ) from None


class KeyVaultRecipientType(RecipientType):
    name = TYPE_NAME

    def recipient(self, value: str) -> Recipient:
        return KeyVaultRecipient(value)

    def identity(self, value: str) -> Identity:
        return KeyVaultIdentity(value)
