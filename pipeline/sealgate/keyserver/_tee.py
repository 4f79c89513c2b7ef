"""Confidential workloads: Microsoft Azure Attestation (MAA) tokens as verified TEE facts.

A workload in a TEE (an SEV-SNP or TDX confidential VM, a confidential container) presents
the JWT that its attestation provider issued after checking the hardware evidence. The token
is signed (RS256) by a key of the provider's JWKS, found through the provider's discovery
document at ``{issuer}/.well-known/openid-configuration``; only configured providers are
trusted, by exact issuer, and keys are never taken from the token itself (``jku``, ``x5u``,
``jwk`` headers are ignored).

The verified claims become the ``tee`` facts of the unseal input; a token that does not
verify is a fact too (``verified: false`` with the problem), so the policy denies with its
rule id. When the token carries a runtime key (``x-ms-runtime.keys``, the key the TEE
generated and bound into its hardware report), the data key must be wrapped to that key and
to no key the caller sent: a replayed token is then worth nothing to whoever replays it.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sealgate.errors import InputError, VerificationError

# MAA tokens with a CVM's isolation claims and runtime keys are 5-15 KB; far more is not one.
MAX_TOKEN_BYTES = 64 * 1024
_MAX_DOCUMENT_BYTES = 1024 * 1024
_LEEWAY_SECONDS = 60
_MIN_RSA_BITS = 2048
RUNTIME_KEY_ALGORITHM = "RSA-OAEP-256"

# The claims the policy and the audit record need; everything else in a token stays out.
_KEPT_CLAIMS = frozenset(
    {
        "x-ms-ver",
        "x-ms-attestation-type",
        "x-ms-compliance-status",
        "x-ms-policy-hash",
        "x-ms-runtime",
        "x-ms-isolation-tee",
        "secureboot",
        "nonce",
    }
)
_KEPT_PREFIXES = ("x-ms-sevsnpvm-", "x-ms-azurevm-", "tdx_")


class _Rejected(Exception):
    """A token or provider answer that does not verify; its message is the problem."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a provider's keys come from the provider, not from where it points


@dataclass(frozen=True)
class _KeySet:
    keys: dict[str, rsa.RSAPublicKey]
    fetched: float


class AttestationProviders:
    """The attestation providers the service trusts (``attestation_providers`` of the config).

    Keeps each provider's signing keys for ``cache_seconds``; a token naming a key id the
    cache lacks refetches, at most once per ``refetch_seconds`` (providers rotate keys).
    """

    def __init__(
        self,
        issuers: Iterable[str],
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 5.0,
        cache_seconds: float = 3600.0,
        refetch_seconds: float = 60.0,
    ) -> None:
        self.issuers = tuple(issuers)
        for issuer in self.issuers:
            parsed = urlparse(issuer)
            if parsed.scheme != "https" or not parsed.hostname or parsed.path not in ("", "/"):
                raise InputError(
                    f"attestation provider {issuer!r}: expected https://NAME.REGION.attest.azure.net"
                )
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ssl_context or ssl.create_default_context()),
            _NoRedirect(),
        )
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._keys: dict[str, _KeySet] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, entries: Sequence[Mapping[str, Any]], **options: Any
    ) -> AttestationProviders:
        """From the ``attestation_providers: [{issuer: ...}]`` list of keyserver.yaml."""
        issuers = []
        for entry in entries:
            issuer = entry.get("issuer") if isinstance(entry, Mapping) else None
            if not isinstance(issuer, str):
                raise InputError("attestation_providers: each entry needs an `issuer` URL")
            issuers.append(issuer)
        return cls(issuers, **options)

    def _get_json(self, url: str) -> dict[str, Any]:
        if urlparse(url).scheme != "https":
            raise _Rejected(f"{url} is not an https URL")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                body = response.read(_MAX_DOCUMENT_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise _Rejected(f"{url} answered HTTP {exc.code}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Rejected(f"{url} is unreachable ({type(exc).__name__})") from None
        if len(body) > _MAX_DOCUMENT_BYTES:
            raise _Rejected(f"{url} answered more than {_MAX_DOCUMENT_BYTES} bytes")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise _Rejected(f"{url} did not answer JSON") from None
        if not isinstance(document, dict):
            raise _Rejected(f"{url} did not answer a JSON object")
        return document

    def _fetch_keys(self, issuer: str) -> dict[str, rsa.RSAPublicKey]:
        base = issuer.rstrip("/")
        discovery = self._get_json(f"{base}/.well-known/openid-configuration")
        named, jwks_uri = discovery.get("issuer", issuer), discovery.get("jwks_uri")
        if not isinstance(named, str) or named.rstrip("/") != base or not isinstance(jwks_uri, str):
            raise _Rejected(
                f"the discovery document of {issuer} names another issuer or no jwks_uri"
            )
        if urlparse(jwks_uri).netloc != urlparse(base).netloc:
            raise _Rejected(f"the discovery document of {issuer} points at keys on another host")
        entries = self._get_json(jwks_uri).get("keys")
        if not isinstance(entries, list):
            raise _Rejected(f"{jwks_uri} holds no `keys` list")
        keys = {}
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("kid"), str):
                key = _signing_key(entry)
                if key is not None:
                    keys[entry["kid"]] = key
        return keys

    def signing_key(self, issuer: str, kid: str, now: float) -> rsa.RSAPublicKey:
        with self._lock:
            cached = self._keys.get(issuer)
            fresh = cached is not None and now - cached.fetched < self._cache_seconds
            may_refetch = cached is None or now - cached.fetched >= self._refetch_seconds
            if cached is None or not fresh or (kid not in cached.keys and may_refetch):
                cached = _KeySet(self._fetch_keys(issuer), now)
                self._keys[issuer] = cached
        key = cached.keys.get(kid)
        if key is None:
            raise _Rejected(f"key {kid!r} is not among the signing keys of {issuer}")
        return key


def _b64url_int(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError("not a base64url string")
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def _rsa_from_jwk(entry: Mapping[str, Any]) -> rsa.RSAPublicKey | None:
    """An RSA public key of at least 2048 bits from ``n``/``e`` or the first ``x5c`` certificate.

    MAA publishes its signing keys as ``x5c`` certificates only; the certificate is not
    chained anywhere: it is trusted because it came from the configured provider over TLS.
    """
    try:
        if "n" in entry and "e" in entry:
            key: object = rsa.RSAPublicNumbers(
                _b64url_int(entry["e"]), _b64url_int(entry["n"])
            ).public_key()
        elif isinstance(entry.get("x5c"), list) and entry["x5c"]:
            der = base64.b64decode(entry["x5c"][0], validate=True)
            key = x509.load_der_x509_certificate(der).public_key()
        else:
            return None
    except (ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < _MIN_RSA_BITS:
        return None
    return key


def _signing_key(entry: Mapping[str, Any]) -> rsa.RSAPublicKey | None:
    if entry.get("kty", "RSA") != "RSA" or entry.get("use", "sig") != "sig":
        return None
    return _rsa_from_jwk(entry)


def _kept(claims: Mapping[str, Any]) -> dict[str, Any]:
    kept = {
        name: value
        for name, value in claims.items()
        if name in _KEPT_CLAIMS or name.startswith(_KEPT_PREFIXES)
    }
    isolation = kept.get("x-ms-isolation-tee")
    if isinstance(isolation, dict):
        kept["x-ms-isolation-tee"] = _kept(isolation)
    return kept


def _timestamp(now: datetime | float) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _Rejected(f"the token has no numeric `{name}` claim")
    if now > claims["exp"] + _LEEWAY_SECONDS:
        raise _Rejected("the token has expired")
    if now + _LEEWAY_SECONDS < claims["nbf"]:
        raise _Rejected("the token is not valid yet (nbf)")
    if now + _LEEWAY_SECONDS < claims["iat"]:
        raise _Rejected("the token was issued in the future (iat)")


def _runtime_jwk(claims: Mapping[str, Any]) -> dict[str, Any] | None:
    """The one encryption key of ``x-ms-runtime.keys``, or None when the token binds none.

    Several usable keys, or one that cannot be wrapped to, reject the token: the service
    must never choose a key the TEE did not mean, nor fall back to the caller's key.
    """
    runtime = claims.get("x-ms-runtime")
    if not isinstance(runtime, dict) or "keys" not in runtime:
        return None
    entries = runtime["keys"]
    if not isinstance(entries, list):
        raise _Rejected("x-ms-runtime.keys is not a list")
    usable = [
        entry
        for entry in entries
        if isinstance(entry, dict)
        and (
            not isinstance(entry.get("key_ops"), list)
            or {"encrypt", "wrapKey"} & set(map(str, entry["key_ops"]))
        )
    ]
    if not usable:
        return None
    if len(usable) > 1:
        raise _Rejected("x-ms-runtime.keys holds several encryption keys: which one is meant?")
    entry = usable[0]
    if entry.get("kty") not in ("RSA", "RSA-HSM") or _rsa_from_jwk(entry) is None:
        raise _Rejected(
            f"runtime key {entry.get('kid')!r} is not an RSA key of at least {_MIN_RSA_BITS} bits"
        )
    return entry


def _problem(message: str) -> dict[str, Any]:
    return {"verified": False, "problem": message}


def verify_attestation_token(
    token: object,
    providers: AttestationProviders | Sequence[Mapping[str, Any]],
    *,
    now: datetime | float,
) -> dict[str, Any]:
    """The ``tee`` facts of an MAA token: ``{"verified": true, "issuer", "claims", "runtime_key"}``.

    ``claims`` keeps the attestation claims the policy reads (``x-ms-attestation-type``,
    ``x-ms-compliance-status``, ``x-ms-policy-hash``, ``x-ms-runtime``, ``x-ms-isolation-tee``,
    ``x-ms-sevsnpvm-*``, ``x-ms-azurevm-*``, ``tdx_*``); ``runtime_key`` is ``{"kid", "kty"}``
    of the key the data key must be wrapped to, or None. Anything that does not verify is
    ``{"verified": false, "problem": "..."}``; hostile input never raises.
    """
    if not isinstance(providers, AttestationProviders):
        providers = AttestationProviders.from_config(providers)
    if not isinstance(token, str) or not token:
        return _problem("the attestation token is not a string")
    if len(token) > MAX_TOKEN_BYTES:
        return _problem(f"the attestation token is longer than {MAX_TOKEN_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in providers.issuers:
            raise _Rejected(f"issuer {issuer!r} is not a configured attestation provider")
        if header.get("alg") != "RS256":
            raise _Rejected(f"the token is signed with {header.get('alg')!r}, not RS256")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise _Rejected("the token header names no key id (kid)")
        moment = _timestamp(now)
        key = providers.signing_key(issuer, kid, moment)
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=issuer,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        _check_times(claims, moment)
        runtime = _runtime_jwk(claims)
    except _Rejected as exc:
        return _problem(str(exc))
    except jwt.PyJWTError as exc:
        return _problem(f"the attestation token does not verify: {exc}")
    except (ValueError, TypeError, KeyError, RecursionError, OverflowError) as exc:
        return _problem(f"the attestation token is malformed ({type(exc).__name__})")
    return {
        "verified": True,
        "issuer": issuer,
        "claims": _kept(claims),
        "runtime_key": None
        if runtime is None
        else {"kid": runtime.get("kid"), "kty": runtime.get("kty")},
    }


def runtime_key(facts: Mapping[str, Any]) -> rsa.RSAPublicKey | None:
    """The TEE's own key from verified ``tee`` facts: wrap the data key to it, or None.

    None for facts that did not verify or a token that binds no runtime key; the service
    then must not treat the caller as a TEE (the policy decides whether that may unseal).
    """
    if facts.get("verified") is not True or facts.get("runtime_key") is None:
        return None
    claims = facts.get("claims")
    try:
        entry = _runtime_jwk(cast(Mapping[str, Any], claims)) if isinstance(claims, dict) else None
    except _Rejected:
        return None
    return None if entry is None else _rsa_from_jwk(entry)


def wrap_for_runtime_key(public_key: rsa.RSAPublicKey, data_key: bytes, context: bytes) -> str:
    """The data key encrypted to a TEE's runtime key (RSA-OAEP-256, ``context`` as the label).

    Returns base64; ``RUNTIME_KEY_ALGORITHM`` names the algorithm in the release answer. The
    label binds the answer to this release (seal id and request), as the other wraps do.
    """
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=context)
    return base64.b64encode(public_key.encrypt(data_key, oaep)).decode()


def unwrap_with_runtime_key(private_key: rsa.RSAPrivateKey, wrapped: str, context: bytes) -> bytes:
    """Inside the TEE: the data key from ``wrap_for_runtime_key``'s answer, for this context."""
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=context)
    try:
        return private_key.decrypt(base64.b64decode(wrapped, validate=True), oaep)
    except ValueError:
        raise VerificationError(
            "the released data key does not open with this runtime key and context"
        ) from None
