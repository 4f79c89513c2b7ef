"""The shared OIDC verifier: where the key release service and the promotion gate differed,
the stricter rule holds for both. Each refusal is replayed against the local issuer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from sealgate._oidc import (
    MAX_DISCOVERY_BYTES,
    IssuerUnavailable,
    OidcVerifier,
    TokenRejected,
    TrustedIssuer,
)
from sealgate.errors import InputError, VerificationError
from sealgate.promotion._oidc import OidcIssuer as CiIssuer
from sealgate.promotion._oidc import oidc_issuers, verify_ci_token

from tests.keyserver.pki import Pki, make_pki
from tests.oidc_issuer import OidcIssuer

AUDIENCE = "api://sealgate-test"
DISCOVERY = "/tenant-0/v2.0/.well-known/openid-configuration"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def oidc(pki: Pki) -> Iterator[OidcIssuer]:
    running = OidcIssuer(pki)
    try:
        yield running
    finally:
        running.close()


def verifier(oidc: OidcIssuer, pki: Pki) -> OidcVerifier:
    return OidcVerifier([TrustedIssuer(oidc.issuer, (AUDIENCE,), None, pki.ca)], label="token")


def claims(**changes: object) -> dict[str, object]:
    return {"aud": AUDIENCE, "sub": "system:serviceaccount:ns:sa", **changes}


def test_a_good_token_of_either_algorithm_verifies(oidc: OidcIssuer, pki: Pki) -> None:
    check = verifier(oidc, pki)
    for kid in oidc.keys:
        assert check.verify(oidc.mint(claims(), kid=kid))["sub"] == "system:serviceaccount:ns:sa"


def test_only_rs256_and_es256_even_for_a_published_key(oidc: OidcIssuer, pki: Pki) -> None:
    # The promotion gate used to accept PS256/RS384/RS512/ES384 too.
    kid, (_, key) = next(iter(oidc.keys.items()))
    ps256 = jwt.encode({"iss": oidc.issuer, "exp": 2**31, "iat": 1, **claims()}, key,
                       algorithm="PS256", headers={"kid": kid})  # fmt: skip
    with pytest.raises(TokenRejected, match="'PS256' is not one of RS256, ES256"):
        verifier(oidc, pki).verify(ps256)


def test_iat_is_required_and_the_subject_is_visible_ascii(oidc: OidcIssuer, pki: Pki) -> None:
    # The key release service used to accept a token without ``iat``.
    kid, (alg, key) = next(iter(oidc.keys.items()))
    no_iat = jwt.encode({"iss": oidc.issuer, "exp": 2**31, **claims()}, key, algorithm=alg,
                        headers={"kid": kid})  # fmt: skip
    with pytest.raises(TokenRejected, match='"iat"'):
        verifier(oidc, pki).verify(no_iat)
    # ... and any string as ``sub``.
    with pytest.raises(TokenRejected, match="subject is not 1-300 visible ASCII"):
        verifier(oidc, pki).verify(oidc.mint(claims(sub="a b")))


def test_a_token_without_kid_is_refused(oidc: OidcIssuer, pki: Pki) -> None:
    _, (alg, key) = next(iter(oidc.keys.items()))
    token = jwt.encode({"iss": oidc.issuer, "exp": 2**31, "iat": 1, **claims()}, key, algorithm=alg)
    with pytest.raises(TokenRejected, match="names no key"):
        verifier(oidc, pki).verify(token)


def test_a_redirecting_discovery_document_is_an_outage(oidc: OidcIssuer, pki: Pki) -> None:
    # The key release service used to follow redirects.
    # The target is a valid document: only refusing the redirect makes this an outage.
    document = (
        f'{{"issuer": "{oidc.issuer}", "jwks_uri": "{oidc.url}/tenant-0/discovery/v2.0/keys"}}'
    )
    oidc.responses["/moved"] = (200, {}, document.encode())
    oidc.responses[DISCOVERY] = (302, {"Location": f"{oidc.url}/moved"}, b"")
    with pytest.raises(IssuerUnavailable, match="302"):
        verifier(oidc, pki).verify(oidc.mint(claims()))


def test_an_oversized_discovery_document_is_an_outage(oidc: OidcIssuer, pki: Pki) -> None:
    oidc.responses[DISCOVERY] = (200, {}, b" " * (MAX_DISCOVERY_BYTES + 1))
    with pytest.raises(IssuerUnavailable, match="larger than"):
        verifier(oidc, pki).verify(oidc.mint(claims()))


def test_an_http_jwks_uri_is_an_outage(oidc: OidcIssuer, pki: Pki) -> None:
    document = f'{{"issuer": "{oidc.issuer}", "jwks_uri": "http://127.0.0.1:9/keys"}}'
    oidc.responses[DISCOVERY] = (200, {}, document.encode())
    with pytest.raises(IssuerUnavailable, match="jwks_uri is not an https URL"):
        verifier(oidc, pki).verify(oidc.mint(claims()))


def test_promotion_issuers_are_https_only() -> None:
    # The promotion gate used to accept plain http on the loopback address.
    data = {"config": {"promotion": {"requesters": {"oidc_issuers": [
        {"issuer": "http://127.0.0.1:8080", "audiences": ["sealgate-promotion"]}]}}}}  # fmt: skip
    with pytest.raises(InputError, match=r"issuer: must be an https:// URL"):
        oidc_issuers(data)


def test_an_unreachable_ci_issuer_leaves_the_requester_unauthenticated(oidc: OidcIssuer) -> None:
    token = oidc.mint(claims())
    oidc.close()
    with pytest.raises(VerificationError, match=r"OIDC issuer: .*cannot be fetched"):
        verify_ci_token(token, [CiIssuer(oidc.issuer, (AUDIENCE,))])
