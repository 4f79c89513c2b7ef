"""CI OIDC tokens (GitHub Actions, Azure Pipelines, Entra ID) as promotion requesters.

The issuers a gate accepts and the audiences it requires are policy data::

    # policies/data/promotion.yaml
    requesters:
      oidc_issuers:
        - issuer: https://token.actions.githubusercontent.com
          audiences: [sealgate-promotion]

A token is verified with pyjwt against the issuer's OIDC discovery document and JWKS:
signature (asymmetric algorithms only), issuer (exactly a configured one), audience, expiry,
issued-at and subject. Issuers are https; plain http is accepted only on the loopback address.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from sealgate.errors import InputError, VerificationError

MAX_TOKEN_BYTES = 16 * 1024
MAX_DISCOVERY_BYTES = 256 * 1024
TIMEOUT_SECONDS = 10.0
LEEWAY_SECONDS = 30
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
_SUBJECT = re.compile(r"[!-~]{1,300}")


@dataclass(frozen=True)
class OidcIssuer:
    issuer: str
    audiences: tuple[str, ...]


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname:
        try:
            if ipaddress.ip_address(parts.hostname).is_loopback:
                return None
        except ValueError:
            pass
    return "must be an https URL (plain http only on the loopback address)"


def oidc_issuers(policy_data: dict[str, Any]) -> list[OidcIssuer]:
    """The configured CI issuers (``data.config.promotion.requesters.oidc_issuers``)."""
    config = policy_data.get("config", {}).get("promotion", {})
    raw = config.get("requesters", {}).get("oidc_issuers", []) if isinstance(config, dict) else []
    where = "policy data promotion.requesters.oidc_issuers"
    if not isinstance(raw, list):
        raise InputError(f"{where}: must be a list")
    issuers = []
    for position, entry in enumerate(raw):
        issuer = entry.get("issuer") if isinstance(entry, dict) else None
        audiences = entry.get("audiences") if isinstance(entry, dict) else None
        if not isinstance(issuer, str) or _url_problem(issuer):
            raise InputError(f"{where}[{position}].issuer: {_url_problem(str(issuer))}")
        if (
            not isinstance(audiences, list)
            or not audiences
            or not all(isinstance(a, str) and a for a in audiences)
        ):
            raise InputError(f"{where}[{position}].audiences: a non-empty list of strings")
        issuers.append(OidcIssuer(issuer, tuple(audiences)))
    return issuers


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The discovery document is read from the configured issuer itself, never elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get_json(url: str, what: str) -> dict[str, Any]:
    problem = _url_problem(url)
    if problem:
        raise VerificationError(f"{what} {url}: {problem}")
    opener = urllib.request.build_opener(_NoRedirects())
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(MAX_DISCOVERY_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise VerificationError(f"{what} {url}: cannot be fetched ({exc})") from None
    if len(body) > MAX_DISCOVERY_BYTES:
        raise VerificationError(f"{what} {url}: larger than {MAX_DISCOVERY_BYTES} bytes")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise VerificationError(f"{what} {url}: not JSON") from None
    if not isinstance(document, dict):
        raise VerificationError(f"{what} {url}: not a JSON object")
    return document


def verify_ci_token(token: str, issuers: list[OidcIssuer]) -> dict[str, Any]:
    """The verified claims of a CI OIDC token; VerificationError says why it is refused."""
    if len(token) > MAX_TOKEN_BYTES:
        raise VerificationError(f"OIDC token is larger than {MAX_TOKEN_BYTES} bytes")
    try:
        claimed = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise VerificationError("OIDC token is not a JWT") from None
    issuer = next((i for i in issuers if i.issuer == claimed.get("iss")), None)
    if issuer is None:
        raise VerificationError(
            f"OIDC token issuer {str(claimed.get('iss'))[:100]!r} is not a configured issuer"
        )
    discovery_url = issuer.issuer.rstrip("/") + "/.well-known/openid-configuration"
    discovery = _get_json(discovery_url, "OIDC discovery")
    if discovery.get("issuer") != issuer.issuer:
        raise VerificationError(f"OIDC discovery {discovery_url}: names another issuer")
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str) or _url_problem(jwks_uri):
        raise VerificationError(f"OIDC discovery {discovery_url}: no usable jwks_uri")
    try:
        key = jwt.PyJWKClient(jwks_uri, timeout=TIMEOUT_SECONDS).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=list(issuer.audiences),
            issuer=issuer.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise VerificationError(f"OIDC token does not verify: {exc}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise VerificationError("OIDC token subject is not 1-300 visible ASCII characters")
    return claims
