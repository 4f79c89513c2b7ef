"""Token verification against the local OIDC issuer, and a configuration that fails closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sealgate.errors import InputError
from sealgate.keyserver._config import Issuer, load_config
from sealgate.keyserver._tokens import TokenError, TokenVerifier, UpstreamError, workload_facts

from tests.conftest import run_sealgate
from tests.keyserver.conftest import AUDIENCE, Estate
from tests.keyserver.pki import make_pki
from tests.oidc_issuer import OidcIssuer


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[tuple[OidcIssuer, TokenVerifier]]:
    pki = make_pki(tmp_path / "pki")
    oidc = OidcIssuer(pki)
    verifier = TokenVerifier(
        (Issuer(oidc.issuer, (AUDIENCE,), None, pki.ca),), leeway=5, refetch_cooldown=0
    )
    try:
        yield oidc, verifier
    finally:
        oidc.close()


def test_keys_are_cached_and_an_unknown_kid_refetches_once(
    issuer: tuple[OidcIssuer, TokenVerifier],
) -> None:
    oidc, verifier = issuer
    claims = {"aud": AUDIENCE, "sub": "system:serviceaccount:ns:sa"}
    for _ in range(3):
        verifier.verify(oidc.mint(claims))
    assert oidc.jwks_requests == 1
    rotated = oidc.rotate("ES256")  # a key published after the set was cached
    assert verifier.verify(oidc.mint(claims, kid=rotated))["sub"] == claims["sub"]
    assert oidc.jwks_requests == 2
    with pytest.raises(TokenError, match="is not a key of"):
        verifier.verify(_with_kid(oidc, claims, "nope"))
    assert oidc.jwks_requests <= 3


def _with_kid(oidc: OidcIssuer, claims: dict, kid: str) -> str:
    import jwt

    alg, key = next(iter(oidc.keys.values()))
    return jwt.encode(
        {"iss": oidc.issuer, "exp": 2**31, **claims}, key, algorithm=alg, headers={"kid": kid}
    )


def test_alg_none_and_missing_claims_are_refused(issuer: tuple[OidcIssuer, TokenVerifier]) -> None:
    import jwt

    oidc, verifier = issuer
    unsigned = jwt.encode(
        {"iss": oidc.issuer, "aud": AUDIENCE, "sub": "x", "exp": 2**31}, None, algorithm="none"
    )
    with pytest.raises(TokenError, match="'none' is not one of"):
        verifier.verify(unsigned)
    with pytest.raises(TokenError, match="sub"):
        verifier.verify(oidc.mint({"aud": AUDIENCE}))
    with pytest.raises(TokenError, match="not a JWT"):
        verifier.verify("garbage")


def test_a_discovery_document_for_another_issuer_is_an_outage_not_a_pass(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    oidc = OidcIssuer(pki)
    try:
        claimed = oidc.issuer.replace("tenant-0", "tenant-1")
        verifier = TokenVerifier((Issuer(claimed, (AUDIENCE,), oidc.issuer, pki.ca),))
        with pytest.raises(UpstreamError, match="names issuer"):
            verifier.verify(oidc.mint({"aud": AUDIENCE, "sub": "x", "iss": claimed}))
    finally:
        oidc.close()


def test_entra_and_aks_claim_shapes() -> None:
    entra = workload_facts(
        {
            "iss": "https://login/t/v2.0",
            "aud": "api://k",
            "tid": "t",
            "oid": "o",
            "azp": "c",
            "sub": "s",
        }
    )
    assert entra == {"type": "workload", "issuer": "https://login/t/v2.0", "subject": "s", "audiences": ["api://k"],
                     "tenant_id": "t", "client_id": "c", "object_id": "o"}  # fmt: skip
    v1 = workload_facts({"iss": "i", "aud": ["a", "b"], "appid": "c1", "sub": "s"})
    assert v1["client_id"] == "c1" and v1["audiences"] == ["a", "b"]
    aks = workload_facts(
        {
            "iss": "https://oidc.aks/x/",
            "aud": "api://k",
            "sub": "system:serviceaccount:models:ranker",
        }
    )
    assert (aks["namespace"], aks["service_account"], aks["tenant_id"]) == (
        "models",
        "ranker",
        None,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"environments": {"dev": {"kek": "tpm:x"}}}, "must be keyvault:... or local:..."),
        ({"trust": "missing.pub"}, "does not exist"),
        ({"surprise": 1}, "unknown field(s) surprise"),
        ({"issuers": [{"issuer": "http://plain", "audiences": ["a"]}]}, "must be an https:// URL"),
        ({"tls": None}, "tls.certificate and tls.key are required"),
        ({"gate_keys": []}, "gate_keys: at least one gate public key is required"),
    ],
)
def test_serve_refuses_a_bad_configuration_with_one_line(
    estate: Estate, tmp_path: Path, change: dict, message: str
) -> None:
    config = {**yaml.safe_load(estate.config.read_text()), **change}
    if config.get("tls") is None:
        config.pop("tls")
    path = estate.root / f"bad-{tmp_path.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    done = run_sealgate("keyserver", "serve", "--config", str(path), "--port", "0", cwd=estate.root)
    assert done.code == 2, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_duplicate_keys_in_the_configuration_are_refused(estate: Estate) -> None:
    path = estate.root / "duplicate.yaml"
    path.write_text(estate.config.read_text() + "service_id: https://other.example\n")
    with pytest.raises(InputError, match="duplicate key 'service_id'"):
        load_config(path)
