"""CI OIDC tokens (GitHub Actions, Azure Pipelines, Entra ID) as promotion requesters.

The issuers a gate accepts and the audiences it requires are policy data::

    # policies/data/promotion.yaml
    requesters:
      oidc_issuers:
        - issuer: https://token.actions.githubusercontent.com
          audiences: [sealgate-promotion]

A token is verified by ``sealgate._oidc`` against the issuer's OIDC discovery document and
JWKS: signature (RS256 or ES256), issuer (exactly a configured one, https), audience, expiry,
issued-at and subject. Every refusal, an unreachable issuer included, is a ``VerificationError``:
the request is then unauthenticated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sealgate._oidc import (
    MAX_TOKEN_BYTES,
    IssuerUnavailable,
    OidcVerifier,
    TokenRejected,
    TrustedIssuer,
    https_problem,
)
from sealgate.errors import InputError, VerificationError

__all__ = ["MAX_TOKEN_BYTES", "OidcIssuer", "oidc_issuers", "verify_ci_token"]

LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class OidcIssuer:
    issuer: str
    audiences: tuple[str, ...]


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
        if not isinstance(issuer, str) or https_problem(issuer):
            raise InputError(f"{where}[{position}].issuer: {https_problem(str(issuer))}")
        if (
            not isinstance(audiences, list)
            or not audiences
            or not all(isinstance(a, str) and a for a in audiences)
        ):
            raise InputError(f"{where}[{position}].audiences: a non-empty list of strings")
        issuers.append(OidcIssuer(issuer, tuple(audiences)))
    return issuers


def verify_ci_token(token: str, issuers: list[OidcIssuer]) -> dict[str, Any]:
    """The verified claims of a CI OIDC token; VerificationError says why it is refused."""
    verifier = OidcVerifier(
        (TrustedIssuer(i.issuer, i.audiences) for i in issuers),
        label="OIDC token",
        leeway=LEEWAY_SECONDS,
    )
    try:
        return verifier.verify(token)
    except TokenRejected as exc:
        raise VerificationError(str(exc)) from None
    except IssuerUnavailable as exc:
        raise VerificationError(f"OIDC issuer: {exc}") from None
