"""Verify OIDC JWTs against an issuer's discovery document and JWK set (pyjwt).

Shared by the key release service (workload identity) and the promotion gate (CI requesters);
each keeps its own configuration and maps the verified claims to its own facts.

A token is accepted only if: it is at most ``MAX_TOKEN_BYTES``; its header names an allowed
algorithm (RS256 or ES256: ``none`` and HMAC are refused before any key is looked at) and a
``kid``; ``iss`` is exactly a configured issuer; the issuer's discovery document
(``/.well-known/openid-configuration``, https only, no redirects, bounded, with a timeout)
names that same issuer and an https ``jwks_uri``; the signature verifies with the key of that
``kid``; ``aud`` includes a configured audience; ``iss``, ``aud``, ``sub``, ``exp`` and ``iat``
are present; ``exp``/``nbf``/``iat`` hold within the leeway; ``sub`` is 1-300 visible ASCII.

JWK sets are cached per issuer (bounded); an unknown ``kid`` forces at most one refetch per
cooldown window, so a flood of random ``kid``s is not a flood of fetches.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

ALGORITHMS = ("RS256", "ES256")
DISCOVERY_PATH = "/.well-known/openid-configuration"
MAX_TOKEN_BYTES = 16 * 1024
MAX_DISCOVERY_BYTES = 256 * 1024
FETCH_TIMEOUT_SECONDS = 5.0
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat")
MAX_CACHED_KEYS = 16
_SUBJECT = re.compile(r"[!-~]{1,300}")


class TokenRejected(Exception):
    """The token does not authenticate anyone."""


class IssuerUnavailable(Exception):
    """The issuer's discovery document or keys cannot be had (or are not the issuer's)."""


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    audiences: tuple[str, ...]
    # Where to fetch the discovery document; the issuer itself unless set (tests, proxies).
    discovery_url: str | None = None
    # Extra CA certificates for the issuer's TLS; the system store unless set.
    ca_bundle: Path | None = None


def https_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched from, or None."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    return "must be an https:// URL"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Documents are read from the URL configured or published, never from elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _ssl_context(issuer: TrustedIssuer) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(issuer.ca_bundle) if issuer.ca_bundle else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def fetch_json(url: str, context: ssl.SSLContext) -> dict[str, Any]:
    """A JSON object from an https URL: no redirects, at most ``MAX_DISCOVERY_BYTES``."""
    problem = https_problem(url)
    if problem:
        raise IssuerUnavailable(f"{url}: {problem}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - https only
    opener = urllib.request.build_opener(
        _NoRedirects(), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as answer:
            data = answer.read(MAX_DISCOVERY_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise IssuerUnavailable(f"{url}: cannot be fetched ({exc})") from None
    if len(data) > MAX_DISCOVERY_BYTES:
        raise IssuerUnavailable(f"{url}: larger than {MAX_DISCOVERY_BYTES} bytes")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise IssuerUnavailable(f"{url}: not JSON") from None
    if not isinstance(document, dict):
        raise IssuerUnavailable(f"{url}: not a JSON object")
    return document


@dataclass
class _IssuerKeys:
    client: jwt.PyJWKClient
    fetched: float


class OidcVerifier:
    """Verifies tokens of the given issuers; safe to share between threads.

    ``label`` starts every refusal message ("bearer token", "OIDC token")."""

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        *,
        label: str = "token",
        leeway: int = 30,
        cache_seconds: int = 300,
        refetch_cooldown: float = 30.0,
    ) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self._label = label
        self._leeway = leeway
        self._cache_seconds = cache_seconds
        self._refetch_cooldown = refetch_cooldown
        self._keys: dict[str, _IssuerKeys] = {}
        self._lock = threading.Lock()

    def _client(self, issuer: TrustedIssuer) -> jwt.PyJWKClient:
        with self._lock:
            cached = self._keys.get(issuer.issuer)
            if cached is not None and time.monotonic() - cached.fetched < self._cache_seconds:
                return cached.client
        context = _ssl_context(issuer)
        url = (issuer.discovery_url or issuer.issuer).rstrip("/") + DISCOVERY_PATH
        discovery = fetch_json(url, context)
        if discovery.get("issuer") != issuer.issuer:
            raise IssuerUnavailable(
                f"{url}: names issuer {str(discovery.get('issuer'))[:200]!r}, not {issuer.issuer!r}"
            )
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or https_problem(jwks_uri):
            raise IssuerUnavailable(f"{url}: jwks_uri is not an https URL")
        # pyjwt's client refuses redirects itself and refetches an unknown kid at most once
        # per cooldown.
        client = jwt.PyJWKClient(
            jwks_uri,
            cache_jwk_set=True,
            lifespan=self._cache_seconds,
            max_cached_keys=MAX_CACHED_KEYS,
            timeout=FETCH_TIMEOUT_SECONDS,
            ssl_context=context,
            cooldown_duration=self._refetch_cooldown,
        )
        with self._lock:
            self._keys[issuer.issuer] = _IssuerKeys(client, time.monotonic())
        return client

    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims; ``TokenRejected`` if the token authenticates no one,
        ``IssuerUnavailable`` if the issuer's keys cannot be had."""
        label = self._label
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected(f"{label} is larger than {MAX_TOKEN_BYTES} bytes")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenRejected(f"{label} is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected(
                f"{label} algorithm {str(header.get('alg'))[:20]!r} is not one of {', '.join(ALGORITHMS)}"
            )
        claimed = unverified.get("iss")
        issuer = self._issuers.get(claimed) if isinstance(claimed, str) else None
        if issuer is None:
            raise TokenRejected(
                f"{label} issuer {str(claimed)[:100]!r} is not trusted: not a configured issuer"
            )
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRejected(f"{label} header names no key (kid)")
        try:
            key = self._client(issuer).get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise IssuerUnavailable(
                f"{issuer.issuer}: cannot fetch the signing keys: {exc}"
            ) from None
        except jwt.PyJWKClientError:
            raise TokenRejected(
                f"{label} key {kid[:100]!r} is not a key of {issuer.issuer}"
            ) from None
        claims = self._decode(token, key.key, header["alg"], issuer)
        if not _SUBJECT.fullmatch(claims["sub"] if isinstance(claims["sub"], str) else ""):
            raise TokenRejected(f"{label} subject is not 1-300 visible ASCII characters")
        return claims

    def _decode(self, token: str, key: Any, alg: str, issuer: TrustedIssuer) -> dict[str, Any]:
        label = self._label
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=list(issuer.audiences),
                issuer=issuer.issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected(f"{label} has expired") from None
        except jwt.InvalidAudienceError as exc:
            raise TokenRejected(
                f"{label} is not for this service ({exc}; audiences {list(issuer.audiences)})"
            ) from None
        except jwt.InvalidSignatureError as exc:
            raise TokenRejected(f"{label} signature does not verify ({exc})") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"{label} does not verify: {exc}") from None
        return claims
