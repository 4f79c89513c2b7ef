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
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from sealgate.errors import DeniedError, InputError, VerificationError
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
        from azure.identity import DefaultAzureCredential

        # Includes WorkloadIdentityCredential (AKS workload identity) and managed identity.
        return DefaultAzureCredential()


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

    status = getattr(exc, "status_code", None)
    reason = " ".join(str(getattr(exc, "message", "") or exc).split())[:300]
    asked = f"{action} key {key.name} version {key.version}"
    if isinstance(exc, ClientAuthenticationError) and status is None:
        return DeniedError(
            f"Key Vault {key.vault}: cannot {asked}: no credential could get a token ({reason})"
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


def release_key(key: KeyUrl, attestation_token: str, access: KeyVaultAccess) -> str:
    """Secure Key Release: present an attestation token; returns the release JWS from Key Vault."""
    from azure.core.exceptions import AzureError
    from azure.keyvault.keys import KeyClient

    try:
        client = KeyClient(key.vault, access.credential(), **access.client_options)
        return client.release_key(key.name, attestation_token, version=key.version).value
    except AzureError as exc:
        raise _sdk_error(exc, key, "release") from None


class KeyVaultRecipientType(RecipientType):
    name = TYPE_NAME

    def recipient(self, value: str) -> Recipient:
        return KeyVaultRecipient(value)

    def identity(self, value: str) -> Identity:
        return KeyVaultIdentity(value)
