"""Workload identity: verify an OIDC bearer token and turn its claims into consumer facts.

The verification itself is ``sealgate._oidc`` (issuers from the service configuration, each
with an optional CA bundle and discovery URL); this module maps its refusals to HTTP 401
(``TokenError``) and its issuer outages to HTTP 503 (``UpstreamError``), and Entra ID / AKS
claims to the unseal policy's consumer facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealgate._oidc import IssuerUnavailable, OidcVerifier, TokenRejected, TrustedIssuer
from sealgate.errors import DeniedError
from sealgate.keyserver._config import Issuer


class TokenError(DeniedError):
    """The bearer token does not authenticate anyone (HTTP 401)."""


class UpstreamError(Exception):
    """The issuer's discovery document or keys could not be fetched (HTTP 503)."""


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
        trusted = (
            TrustedIssuer(i.issuer, i.audiences, i.discovery_url, i.ca_bundle) for i in issuers
        )
        self._verifier = OidcVerifier(
            trusted,
            label="the bearer token",
            leeway=leeway,
            cache_seconds=cache_seconds,
            refetch_cooldown=refetch_cooldown,
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims; ``TokenError`` if the token authenticates no one,
        ``UpstreamError`` if the issuer's keys cannot be had."""
        try:
            return self._verifier.verify(token)
        except TokenRejected as exc:
            raise TokenError(str(exc)) from None
        except IssuerUnavailable as exc:
            raise UpstreamError(str(exc)) from None
