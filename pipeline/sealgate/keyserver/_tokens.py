"""Workload identity: verify an OIDC bearer token and turn its claims into consumer facts.

The issuer must be configured (exact ``iss``); its discovery document
(``/.well-known/openid-configuration``) must name the same issuer and an https ``jwks_uri``;
the signature must verify with a key of that set (RS256 or ES256 only: ``none`` and HMAC are
refused before any key is looked at); ``aud`` must include a configured audience; ``exp``
is required, ``exp``/``nbf``/``iat`` are checked with a small leeway. JWK sets are cached
(bounded, per issuer) and an unknown ``kid`` refetches once (pyjwt's ``PyJWKClient``).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from sealgate.errors import DeniedError
from sealgate.keyserver._config import Issuer

ALGORITHMS = ("RS256", "ES256")
DISCOVERY_PATH = "/.well-known/openid-configuration"
MAX_DISCOVERY_BYTES = 256 * 1024
FETCH_TIMEOUT_SECONDS = 5
MAX_TOKEN_BYTES = 16 * 1024


class TokenError(DeniedError):
    """The bearer token does not authenticate anyone (HTTP 401)."""


class UpstreamError(Exception):
    """The issuer's discovery document or keys could not be fetched (HTTP 503)."""


@dataclass
class _IssuerKeys:
    client: jwt.PyJWKClient
    fetched: float


def _ssl_context(issuer: Issuer) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(issuer.ca_bundle) if issuer.ca_bundle else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _fetch_json(url: str, context: ssl.SSLContext) -> dict[str, Any]:
    if not url.startswith("https://"):
        raise UpstreamError(f"{url}: not an https URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - https only
    try:
        opened = urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS, context=context)  # noqa: S310 - https only
        with opened as answer:
            data = answer.read(MAX_DISCOVERY_BYTES + 1)
    except OSError as exc:
        raise UpstreamError(f"{url}: {exc}") from None
    if len(data) > MAX_DISCOVERY_BYTES:
        raise UpstreamError(f"{url}: document is too large")
    try:
        document = json.loads(data)
    except ValueError:
        raise UpstreamError(f"{url}: not JSON") from None
    if not isinstance(document, dict):
        raise UpstreamError(f"{url}: not a JSON object")
    return document


def workload_facts(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Entra ID (``tid``, ``oid``, ``azp``/``appid``) and AKS (``sub`` =
    ``system:serviceaccount:NS:SA``) claim shapes, as the unseal policy's consumer facts."""
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    subject = claims.get("sub")
    facts: dict[str, Any] = {
        "type": "workload",
        "issuer": claims.get("iss"),
        "subject": subject,
        "audiences": audiences,
        "tenant_id": claims.get("tid"),
        "client_id": claims.get("azp") or claims.get("appid"),
        "object_id": claims.get("oid"),
    }
    if isinstance(subject, str) and subject.startswith("system:serviceaccount:"):
        parts = subject.split(":")
        if len(parts) == 4:
            facts["namespace"], facts["service_account"] = parts[2], parts[3]
    return facts


class TokenVerifier:
    """Verifies bearer tokens of the configured issuers; safe to share between threads."""

    def __init__(
        self,
        issuers: tuple[Issuer, ...],
        *,
        leeway: int = 60,
        cache_seconds: int = 300,
        refetch_cooldown: float = 30.0,
    ) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self._leeway = leeway
        self._cache_seconds = cache_seconds
        # At most one forced refetch of a JWK set per window: an unknown ``kid`` refetches
        # once, a flood of random ``kid``s does not turn into a flood of fetches.
        self._refetch_cooldown = refetch_cooldown
        self._keys: dict[str, _IssuerKeys] = {}
        self._lock = threading.Lock()

    def _client(self, issuer: Issuer) -> jwt.PyJWKClient:
        with self._lock:
            cached = self._keys.get(issuer.issuer)
            if cached is not None and time.monotonic() - cached.fetched < self._cache_seconds:
                return cached.client
        context = _ssl_context(issuer)
        base = (issuer.discovery_url or issuer.issuer).rstrip("/")
        discovery = _fetch_json(base + DISCOVERY_PATH, context)
        if discovery.get("issuer") != issuer.issuer:
            raise UpstreamError(
                f"{base}{DISCOVERY_PATH}: names issuer {discovery.get('issuer')!r}, not {issuer.issuer!r}"
            )
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise UpstreamError(f"{base}{DISCOVERY_PATH}: jwks_uri is not an https URL")
        client = jwt.PyJWKClient(
            jwks_uri,
            cache_jwk_set=True,
            lifespan=self._cache_seconds,
            max_cached_keys=16,
            timeout=FETCH_TIMEOUT_SECONDS,
            ssl_context=context,
            cooldown_duration=self._refetch_cooldown,
        )
        with self._lock:
            self._keys[issuer.issuer] = _IssuerKeys(client, time.monotonic())
        return client

    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims; ``TokenError`` if the token authenticates no one,
        ``UpstreamError`` if the issuer's keys cannot be had."""
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenError("the bearer token is too large")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenError("the bearer token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenError(
                f"token algorithm {header.get('alg')!r} is not one of {', '.join(ALGORITHMS)}"
            )
        issuer = self._issuers.get(unverified.get("iss"))  # type: ignore[arg-type]
        if issuer is None:
            raise TokenError(f"token issuer {unverified.get('iss')!r} is not trusted")
        if not isinstance(header.get("kid"), str):
            raise TokenError("the token header names no key (kid)")
        try:
            key = self._client(issuer).get_signing_key(header["kid"])
        except jwt.PyJWKClientConnectionError as exc:
            raise UpstreamError(f"{issuer.issuer}: cannot fetch the signing keys: {exc}") from None
        except jwt.PyJWKClientError:
            raise TokenError(
                f"token key {header['kid']!r} is not a key of {issuer.issuer}"
            ) from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[header["alg"]],
                audience=list(issuer.audiences),
                issuer=issuer.issuer,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "exp", "sub"], "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the bearer token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenError(
                f"the bearer token is not for this service (audiences {list(issuer.audiences)})"
            ) from None
        except jwt.InvalidSignatureError:
            raise TokenError("the bearer token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"the bearer token does not verify: {exc}") from None
        return claims
