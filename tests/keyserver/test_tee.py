"""Attestation tokens (Microsoft Azure Attestation) as TEE facts, against a local provider.

The provider runs on 127.0.0.1 over HTTPS with keys made here and serves what MAA serves: a
discovery document and a JWKS whose keys are ``x5c`` certificates only. Token claims are the
shapes Microsoft documents (tests/keyserver/data/maa-*.json): a confidential container on
SEV-SNP, SEV-SNP and TDX confidential VMs (TEE claims under ``x-ms-isolation-tee``).
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import os
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from sealgate.errors import DeniedError, InputError, VerificationError
from sealgate.inputs._model import PolicyInput
from sealgate.keyserver import _tee as tee
from sealgate.policy._engine import create_engine
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import load_policy_set
from sealgate.sealing.recipients import _keyvault as keyvault

from tests.conftest import REPO
from tests.keyrelease.keyvault_standin import (
    StandInServer,
    StandInVault,
    b64url,
    make_token,
    self_signed_certificate,
)

DATA = Path(__file__).parent / "data"
NOW = 1_764_590_400.0  # 2025-12-01T12:00:00Z
_SOME_TEE_KEY = rsa.generate_private_key(65537, 2048)


def claims_from(name: str, issuer: str, runtime_key: rsa.RSAPublicKey | None) -> dict[str, Any]:
    """A recorded claim shape with this provider's issuer, times around NOW and our key."""
    claims = json.loads((DATA / name).read_text())
    del claims["_comment"]
    claims.update(iss=issuer, iat=int(NOW) - 60, nbf=int(NOW) - 60, exp=int(NOW) + 8 * 3600)
    for holder in (claims, claims.get("x-ms-isolation-tee", {})):
        for entry in holder.get("x-ms-runtime", {}).get("keys", []):
            key = runtime_key or _SOME_TEE_KEY.public_key()
            entry["n"] = b64url(key.public_numbers().n.to_bytes(key.key_size // 8, "big"))
    return claims


def certificate_for(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "https://local.attest.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


@dataclass
class Provider:
    """A local attestation provider: discovery, ``/certs`` (x5c keys), request log."""

    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    overrides: dict[str, tuple[int, bytes, dict[str, str]]] = field(default_factory=dict)
    issuer: str = ""

    def add_key(self, kid: str | None = None) -> str:
        kid = kid or base64.b64encode(os.urandom(32)).decode()  # MAA: a thumbprint
        self.keys[kid] = rsa.generate_private_key(65537, 2048)
        return kid

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {"kid": kid, "kty": "RSA", "x5c": [base64.b64encode(certificate_for(key)).decode()]}
                for kid, key in self.keys.items()
            ]
        }

    def token(self, claims: dict[str, Any], kid: str | None = None, **headers: Any) -> str:
        kid = kid or next(iter(self.keys))
        return jwt.encode(
            claims,
            self.keys[kid],
            algorithm="RS256",
            headers={"kid": kid, "jku": f"{self.issuer}/certs", **headers},
        )

    def raw_token(self, claims: dict[str, Any]) -> str:
        """Signed as pyjwt would, for claims pyjwt refuses to encode (a non-string iss)."""
        kid = next(iter(self.keys))
        header = b64url(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
        signed = f"{header}.{b64url(json.dumps(claims).encode())}"
        signature = self.keys[kid].sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{b64url(signature)}"


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            provider.requests.append(self.path)
            if self.path in provider.overrides:
                status, body, headers = provider.overrides[self.path]
            elif self.path == "/.well-known/openid-configuration":
                document = {
                    "issuer": provider.issuer,
                    "jwks_uri": f"{provider.issuer}/certs",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "claims_supported": ["x-ms-attestation-type", "x-ms-policy-hash"],
                }
                status, body, headers = 200, json.dumps(document).encode(), {}
            elif self.path == "/certs":
                status, body, headers = 200, json.dumps(provider.jwks()).encode(), {}
            else:
                status, body, headers = 404, b"{}", {}
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@dataclass
class Running:
    provider: Provider
    context: ssl.SSLContext


def _serve(tmp_path: Path, name: str) -> Iterator[Running]:
    folder = tmp_path / name
    folder.mkdir()
    cert, key = self_signed_certificate(folder)
    provider = Provider()
    provider.add_key()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    provider.issuer = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Running(provider, ssl.create_default_context(cafile=str(cert)))
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def maa(tmp_path: Path) -> Iterator[Running]:
    yield from _serve(tmp_path, "maa")


@pytest.fixture
def rogue(tmp_path: Path) -> Iterator[Running]:
    yield from _serve(tmp_path, "rogue")


def providers_for(running: Running, **options: Any) -> tee.AttestationProviders:
    return tee.AttestationProviders(
        [running.provider.issuer], ssl_context=running.context, **options
    )


@pytest.fixture
def tee_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def verify(token: object, running: Running, now: float = NOW) -> dict[str, Any]:
    return tee.verify_attestation_token(token, providers_for(running), now=now)


# --- tokens that verify ------------------------------------------------------------------


def test_confidential_container_token_gives_its_claims_and_runtime_key(
    maa: Running, tee_key: rsa.RSAPrivateKey
) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, tee_key.public_key())
    facts = verify(maa.provider.token(claims), maa)
    assert facts["verified"] is True, facts
    assert facts["issuer"] == maa.provider.issuer
    kept = facts["claims"]
    assert kept["x-ms-attestation-type"] == "sevsnpvm"
    assert kept["x-ms-compliance-status"] == "azure-compliant-uvm"
    assert kept["x-ms-policy-hash"] == claims["x-ms-policy-hash"]
    assert kept["x-ms-sevsnpvm-is-debuggable"] is False
    assert kept["x-ms-sevsnpvm-hostdata"] == claims["x-ms-sevsnpvm-hostdata"]
    assert "jti" not in kept and "exp" not in kept  # only what the policy reads
    assert facts["runtime_key"] == {
        "kid": "Nvhfuq2cCIOAB8XR4Xi9Pr0NP_9CeMzWQGtW_HALz_w",
        "kty": "RSA",
    }
    assert json.loads(json.dumps(facts)) == facts  # JSON-ready for the policy and the audit

    key = tee.runtime_key(facts)
    assert key is not None and key.public_numbers() == tee_key.public_key().public_numbers()
    context = b"sealgate-key-release/v1\0seal-1\0request"
    wrapped = tee.wrap_for_runtime_key(key, b"k" * 32, context)
    assert tee.unwrap_with_runtime_key(tee_key, wrapped, context) == b"k" * 32
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=context)
    assert tee_key.decrypt(base64.b64decode(wrapped), oaep) == b"k" * 32  # plain RSA-OAEP-256
    # Bound to this release's context, and to the TEE: a replayed token's answer opens nowhere else.
    with pytest.raises(VerificationError, match="does not open"):
        tee.unwrap_with_runtime_key(tee_key, wrapped, b"sealgate-key-release/v1\0seal-2\0request")
    with pytest.raises(VerificationError, match="does not open"):
        tee.unwrap_with_runtime_key(_SOME_TEE_KEY, wrapped, context)
    with pytest.raises(VerificationError, match="does not open"):
        tee.unwrap_with_runtime_key(tee_key, "not base64!", context)


@pytest.mark.parametrize(
    ("recorded", "isolation_type"),
    [("maa-cvm-sevsnp.json", "sevsnpvm"), ("maa-cvm-tdx.json", "tdxvm")],
)
def test_confidential_vm_token_wraps_to_the_vtpm_encryption_key_not_the_signing_key(
    maa: Running, tee_key: rsa.RSAPrivateKey, recorded: str, isolation_type: str
) -> None:
    claims = claims_from(recorded, maa.provider.issuer, tee_key.public_key())
    facts = verify(maa.provider.token(claims), maa)
    assert facts["verified"] is True, facts
    assert facts["claims"]["x-ms-attestation-type"] == "azurevm"
    isolation = facts["claims"]["x-ms-isolation-tee"]
    assert isolation["x-ms-attestation-type"] == isolation_type
    assert isolation["x-ms-compliance-status"] == "azure-compliant-cvm"
    if isolation_type == "tdxvm":
        assert isolation["tdx_td_attributes_debug"] is False
        assert isolation["tdx_mrtd"] == claims["x-ms-isolation-tee"]["tdx_mrtd"]
    # HCLAkPub (sign only, nested) is not a key to wrap to; the vTPM's ephemeral key is.
    assert facts["runtime_key"] == {"kid": "TpmEphemeralEncryptionKey", "kty": "RSA"}
    key = tee.runtime_key(facts)
    assert key is not None and key.public_numbers() == tee_key.public_key().public_numbers()


def test_token_without_runtime_key_verifies_but_binds_no_key(maa: Running) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    del claims["x-ms-runtime"]
    facts = verify(maa.provider.token(claims), maa)
    assert facts["verified"] is True and facts["runtime_key"] is None
    assert tee.runtime_key(facts) is None


def test_providers_from_the_service_configuration(maa: Running) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    providers = tee.AttestationProviders.from_config(
        [{"issuer": maa.provider.issuer}], ssl_context=maa.context
    )
    assert tee.verify_attestation_token(maa.provider.token(claims), providers, now=NOW)["verified"]
    moment = datetime.datetime.fromtimestamp(NOW, datetime.UTC)
    assert tee.verify_attestation_token(maa.provider.token(claims), providers, now=moment)[
        "verified"
    ]
    for bad in (
        [{"issuer": "http://plain.attest.azure.net"}],
        [{"issuer": "https://x.attest.azure.net/some/path"}],
        [{"url": "https://x.attest.azure.net"}],
    ):
        with pytest.raises(InputError):
            tee.AttestationProviders.from_config(bad)


# --- tokens that do not verify -----------------------------------------------------------


def rejected(facts: dict[str, Any], words: str) -> None:
    assert facts["verified"] is False, facts
    assert words in facts["problem"], facts["problem"]
    assert set(facts) == {"verified", "problem"}
    assert tee.runtime_key(facts) is None


def test_token_signed_by_another_key_under_the_providers_key_id(maa: Running) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    kid = next(iter(maa.provider.keys))
    forged = jwt.encode(
        claims, rsa.generate_private_key(65537, 2048), algorithm="RS256", headers={"kid": kid}
    )
    rejected(verify(forged, maa), "does not verify: Signature verification failed")


def test_claims_changed_after_signing_are_refused(maa: Running) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    header, _, signature = maa.provider.token(claims).split(".")
    claims["x-ms-sevsnpvm-is-debuggable"] = False
    claims["x-ms-compliance-status"] = "azure-compliant-uvm-but-edited"
    tampered = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    rejected(verify(tampered, maa), "Signature verification failed")


def test_keys_named_by_the_token_itself_are_never_fetched(maa: Running, rogue: Running) -> None:
    """A token signed by an attacker's provider, pointing at its keys by jku, x5u and jwk."""
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    rogue_kid = next(iter(rogue.provider.keys))
    public = rogue.provider.keys[rogue_kid].public_key().public_numbers()
    embedded = {
        "kty": "RSA",
        "kid": rogue_kid,
        "n": b64url(public.n.to_bytes(256, "big")),
        "e": "AQAB",
    }
    token = rogue.provider.token(
        claims, x5u=f"{rogue.provider.issuer}/certs", jwk=embedded
    )  # jku: rogue's /certs
    rejected(verify(token, maa), f"key {rogue_kid!r} is not among the signing keys")
    assert rogue.provider.requests == []
    # The attacker's own issuer is simply not configured.
    claims["iss"] = rogue.provider.issuer
    rejected(verify(rogue.provider.token(claims), maa), "is not a configured attestation provider")


@pytest.mark.parametrize(
    "issuer",
    ["{issuer}/", "{issuer}.evil.test", "https://sharedeus2.eus2.attest.azure.net", "", None, 7],
)
def test_issuer_must_be_exactly_a_configured_provider(maa: Running, issuer: object) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    claims["iss"] = issuer.format(issuer=maa.provider.issuer) if isinstance(issuer, str) else issuer
    rejected(
        verify(maa.provider.raw_token(claims), maa), "is not a configured attestation provider"
    )


def test_algorithm_confusion_and_unsigned_tokens_are_refused(maa: Running) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    kid = next(iter(maa.provider.keys))
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    rejected(verify(unsigned, maa), "signed with 'none', not RS256")
    # HS256 keyed with the provider's public key, the classic confusion.
    pem = (
        maa.provider.keys[kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = b64url(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    import hmac

    mac = hmac.new(pem, f"{header}.{payload}".encode(), "sha256").digest()
    rejected(verify(f"{header}.{payload}.{b64url(mac)}", maa), "signed with 'HS256'")
    ps256 = jwt.encode(claims, maa.provider.keys[kid], algorithm="PS256", headers={"kid": kid})
    rejected(verify(ps256, maa), "signed with 'PS256'")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"exp": int(NOW) - 61}, "has expired"),
        ({"nbf": int(NOW) + 61}, "not valid yet"),
        ({"iat": int(NOW) + 61}, "issued in the future"),
        ({"exp": None}, "no numeric `exp`"),
        ({"nbf": "soon"}, "no numeric `nbf`"),
        ({"iat": True}, "no numeric `iat`"),
    ],
)
def test_token_times_are_checked_against_now(
    maa: Running, change: dict[str, Any], problem: str
) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    claims.update(change)
    claims = {k: v for k, v in claims.items() if v is not None}
    rejected(verify(maa.provider.token(claims), maa), problem)


def test_clock_skew_within_a_minute_is_tolerated(maa: Running) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    claims.update(exp=int(NOW) - 30, nbf=int(NOW) + 30, iat=int(NOW) + 30)
    assert verify(maa.provider.token(claims), maa)["verified"] is True


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        42,
        b"bytes.are.not",
        "not-a-jwt",
        "a.b.c",
        "..",
        "e30.e30.",
        b64url(b'{"alg":"RS256","kid":"k"}') + "." + b64url(b"[1,2]") + ".c2ln",
        b64url(b'{"alg":"RS256","kid":"k"}') + "." + b64url(b"\xff\xfe") + ".c2ln",
        b64url(b'{"alg":"RS256","kid":"k"}') + "." + b64url(b"[" * 100_00 + b"]" * 100_00) + ".x",
        b64url(b'"just a string"') + "." + b64url(b"{}") + ".x",
        "\u0000.\u0000.\u0000",
    ],
)
def test_hostile_input_is_a_fact_never_an_exception(maa: Running, token: object) -> None:
    facts = verify(token, maa)
    assert facts["verified"] is False and facts["problem"]
    assert maa.provider.requests == []  # nothing fetched for a token that names no provider


def test_oversized_token_is_refused_before_any_parsing(maa: Running) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    claims["x-ms-runtime"]["padding"] = "A" * tee.MAX_TOKEN_BYTES
    rejected(verify(maa.provider.token(claims), maa), "longer than")
    assert maa.provider.requests == []


# --- runtime keys ------------------------------------------------------------------------


def _runtime(claims: dict[str, Any], *entries: dict[str, Any]) -> dict[str, Any]:
    claims["x-ms-runtime"] = {"keys": list(entries)}
    return claims


def _rsa_jwk(kid: str, bits: int = 2048, **extra: Any) -> dict[str, Any]:
    numbers = rsa.generate_private_key(65537, bits).public_key().public_numbers()
    return {
        "kid": kid,
        "kty": "RSA",
        "e": "AQAB",
        "n": b64url(numbers.n.to_bytes(bits // 8, "big")),
        **extra,
    }


def test_runtime_keys_the_service_cannot_wrap_to_reject_the_token(maa: Running) -> None:
    issuer = maa.provider.issuer
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    ec_jwk = {
        "kid": "ec",
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(point.x.to_bytes(32, "big")),
        "y": b64url(point.y.to_bytes(32, "big")),
    }
    cases = [
        (_runtime(claims_from("maa-sevsnp-container.json", issuer, None), _rsa_jwk("a"), _rsa_jwk("b")), "several encryption keys"),
        (_runtime(claims_from("maa-sevsnp-container.json", issuer, None), ec_jwk), "is not an RSA key"),
        (_runtime(claims_from("maa-sevsnp-container.json", issuer, None), _rsa_jwk("small", 1024)), "is not an RSA key of at least 2048"),
        (_runtime(claims_from("maa-sevsnp-container.json", issuer, None), {"kid": "junk", "kty": "RSA", "n": 5, "e": []}), "is not an RSA key"),
    ]  # fmt: skip
    for claims, problem in cases:
        rejected(verify(maa.provider.token(claims), maa), problem)
    bad_list = claims_from("maa-sevsnp-container.json", issuer, None)
    bad_list["x-ms-runtime"] = {"keys": "not-a-list"}
    rejected(verify(maa.provider.token(bad_list), maa), "x-ms-runtime.keys is not a list")
    # A signing-only key is not a key to wrap to, so such a token binds none.
    signing_only = _runtime(
        claims_from("maa-sevsnp-container.json", issuer, None), _rsa_jwk("s", key_ops=["sign"])
    )
    facts = verify(maa.provider.token(signing_only), maa)
    assert facts["verified"] is True and facts["runtime_key"] is None


# --- the provider's keys -----------------------------------------------------------------


def test_signing_keys_are_cached_and_a_rotated_key_is_fetched_at_most_once_a_minute(
    maa: Running,
) -> None:
    providers = providers_for(maa)
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    token = maa.provider.token(claims)
    for _ in range(3):
        assert tee.verify_attestation_token(token, providers, now=NOW)["verified"]
    assert maa.provider.requests == ["/.well-known/openid-configuration", "/certs"]

    rotated = maa.provider.add_key()
    new_token = maa.provider.token(claims, kid=rotated)
    assert tee.verify_attestation_token(new_token, providers, now=NOW + 61)["verified"]
    assert len(maa.provider.requests) == 4
    # Unknown key ids do not make the service hammer the provider.
    for n in range(5):
        unknown = jwt.encode(claims, maa.provider.keys[rotated], "RS256", headers={"kid": f"x{n}"})
        assert not tee.verify_attestation_token(unknown, providers, now=NOW + 62)["verified"]
    assert len(maa.provider.requests) == 4


def test_provider_failures_deny_with_the_reason(maa: Running, tmp_path: Path) -> None:
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    token = maa.provider.token(claims)
    discovery = "/.well-known/openid-configuration"

    maa.provider.overrides[discovery] = (503, b"{}", {})
    rejected(verify(token, maa), "answered HTTP 503")

    other_host = json.dumps({"issuer": maa.provider.issuer, "jwks_uri": "https://127.0.0.2/certs"})
    maa.provider.overrides[discovery] = (200, other_host.encode(), {})
    rejected(verify(token, maa), "points at keys on another host")

    other_issuer = json.dumps(
        {"issuer": "https://x.test", "jwks_uri": f"{maa.provider.issuer}/certs"}
    )
    maa.provider.overrides[discovery] = (200, other_issuer.encode(), {})
    rejected(verify(token, maa), "names another issuer")

    for document in (
        {"issuer": 5, "jwks_uri": "x"},
        {"issuer": maa.provider.issuer, "jwks_uri": []},
    ):
        maa.provider.overrides[discovery] = (200, json.dumps(document).encode(), {})
        rejected(verify(token, maa), "names another issuer or no jwks_uri")

    maa.provider.overrides[discovery] = (302, b"", {"Location": "https://127.0.0.2/elsewhere"})
    rejected(verify(token, maa), "answered HTTP 302")

    maa.provider.overrides[discovery] = (200, b"<html>", {})
    rejected(verify(token, maa), "did not answer JSON")

    del maa.provider.overrides[discovery]
    maa.provider.overrides["/certs"] = (200, b"x" * (1024 * 1024 + 10), {})
    rejected(verify(token, maa), "answered more than")

    # Keys that are not RSA signing keys of at least 2048 bits are not the provider's keys.
    kid = next(iter(maa.provider.keys))
    small = rsa.generate_private_key(65537, 1024).public_key().public_numbers()  # noqa: S505
    for entry in (
        {"kid": kid, "kty": "RSA", "n": b64url(small.n.to_bytes(128, "big")), "e": "AQAB"},
        {"kid": kid, "kty": "EC", "x5c": maa.provider.jwks()["keys"][0]["x5c"]},
        {"kid": kid, "kty": "RSA", "use": "enc", "x5c": maa.provider.jwks()["keys"][0]["x5c"]},
        {"kid": kid, "kty": "RSA", "x5c": ["bm90IGEgY2VydGlmaWNhdGU="]},
        {"kid": kid, "kty": "RSA"},
        {"kid": 5, "kty": "RSA", "x5c": maa.provider.jwks()["keys"][0]["x5c"]},
        "not an object",
    ):
        maa.provider.overrides["/certs"] = (200, json.dumps({"keys": [entry]}).encode(), {})
        rejected(verify(token, maa), "is not among the signing keys")
    maa.provider.overrides["/certs"] = (200, b'{"keys": {}}', {})
    rejected(verify(token, maa), "holds no `keys` list")
    maa.provider.overrides["/certs"] = (200, b"[]", {})
    rejected(verify(token, maa), "did not answer a JSON object")
    del maa.provider.overrides["/certs"]
    assert verify(token, maa)["verified"] is True  # the same token, from the real keys

    # A provider whose TLS certificate is not trusted is not a provider.
    untrusted = tee.AttestationProviders([maa.provider.issuer])
    facts = tee.verify_attestation_token(token, untrusted, now=NOW)
    rejected(facts, "is unreachable")


def test_provider_that_does_not_answer_in_time(tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        issuer = f"https://127.0.0.1:{silent.getsockname()[1]}"
        providers = tee.AttestationProviders([issuer], timeout=0.3)
        claims = {"iss": issuer, "exp": NOW + 60, "nbf": NOW, "iat": NOW}
        token = jwt.encode(
            claims, rsa.generate_private_key(65537, 2048), "RS256", headers={"kid": "k"}
        )
        started = time.monotonic()
        facts = tee.verify_attestation_token(token, providers, now=NOW)
        assert time.monotonic() - started < 5
    rejected(facts, "is unreachable")


def test_facts_are_not_shared_with_the_token(maa: Running) -> None:
    """Changing the returned facts (as a caller might) does not change the next answer."""
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, None)
    token = maa.provider.token(claims)
    providers = providers_for(maa)
    first = tee.verify_attestation_token(token, providers, now=NOW)
    saved = copy.deepcopy(first)
    first["claims"]["x-ms-compliance-status"] = "edited"
    assert tee.verify_attestation_token(token, providers, now=NOW) == saved


# --- Secure Key Release: Key Vault releases an exportable key to the TEE -----------------

SERVICE_OID = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"  # the key release service's identity
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class StaticCredential:
    def __init__(self, oid: str) -> None:
        self.token = make_token({"tid": TENANT, "oid": oid, "appid": "app-1", "sub": oid})

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def vault_access(vault: StandInVault, oid: str = SERVICE_OID) -> keyvault.KeyVaultAccess:
    return keyvault.KeyVaultAccess(
        credential_factory=lambda: StaticCredential(oid),
        client_options={"connection_verify": vault.ca, "verify_challenge_resource": False},  # type: ignore[attr-defined]
    )


def release_policy(authority: str) -> dict[str, Any]:
    """A Key Vault key release policy (version 1.0.0) for confidential containers."""
    return {
        "version": "1.0.0",
        "anyOf": [
            {
                "authority": authority,
                "allOf": [
                    {"claim": "x-ms-attestation-type", "equals": "sevsnpvm"},
                    {"claim": "x-ms-compliance-status", "equals": "azure-compliant-uvm"},
                    {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": False},
                ],
            }
        ],
    }


@pytest.fixture
def vault(tmp_path: Path, maa: Running) -> Iterator[StandInVault]:
    folder = tmp_path / "vault"
    folder.mkdir()
    cert, key = self_signed_certificate(folder)
    kid = next(iter(maa.provider.keys))
    standin = StandInVault(
        name="model-export",
        allowed_object_ids={SERVICE_OID},
        key=rsa.generate_private_key(65537, 2048),
        release_policy=release_policy(maa.provider.issuer),
        authorities={maa.provider.issuer: maa.provider.keys[kid].public_key()},
    )
    with StandInServer(standin, cert, key):
        standin.ca = str(cert)  # type: ignore[attr-defined]
        yield standin


def live_token(maa: Running, tee_key: rsa.RSAPrivateKey, **changes: Any) -> str:
    """A token valid now (Key Vault checks its lifetime against its own clock)."""
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, tee_key.public_key())
    now = int(time.time())
    claims.update(iat=now - 60, nbf=now - 60, exp=now + 3600, **changes)
    return maa.provider.token(claims)


def _confidential_findings(document: dict[str, Any]) -> set[str]:
    policy_set = load_policy_set([REPO / "policies"])
    engine = create_engine("embedded", policy_set)
    found = evaluate_input(policy_set, engine, PolicyInput("unseal", "t", "t", document))
    return {f.rule_id for f in found if f.package == "sealgate.unseal.confidential"}


@pytest.mark.parametrize("algorithm", sorted(keyvault.RELEASE_ALGORITHMS))
def test_secure_key_release_wraps_the_key_to_the_runtime_key_of_the_verified_tee(
    maa: Running, vault: StandInVault, tee_key: rsa.RSAPrivateKey, algorithm: str
) -> None:
    token = live_token(maa, tee_key)
    # The service: verify the token itself, decide, then ask Key Vault to release.
    facts = tee.verify_attestation_token(token, providers_for(maa), now=time.time())
    assert facts["verified"] is True, facts
    assert _confidential_findings({"environment": "confidential-prod", "tee": facts}) == set()

    key = keyvault.parse_key_url(vault.key_id)
    released = keyvault.release_key(
        key, token, vault_access(vault), algorithm=algorithm, nonce="bm9uY2UtMQ"
    )
    assert released.key_id == vault.key_id
    assert released.algorithm == algorithm
    assert released.target_key_id == facts["runtime_key"]["kid"]
    assert vault.released[-1]["request"]["nonce"] == "bm9uY2UtMQ"

    # Inside the TEE: only its runtime key opens the released material.
    material = keyvault.open_released_key(released, tee_key)
    exported = serialization.load_der_private_key(material, password=None)
    assert isinstance(exported, rsa.RSAPrivateKey)
    assert exported.private_numbers() == vault.key.private_numbers()
    with pytest.raises(VerificationError, match="does not open with this runtime key"):
        keyvault.open_released_key(released, rsa.generate_private_key(65537, 2048))


def test_release_policy_and_unseal_policy_both_refuse_a_debuggable_tee(
    maa: Running, vault: StandInVault, tee_key: rsa.RSAPrivateKey
) -> None:
    token = live_token(maa, tee_key, **{"x-ms-sevsnpvm-is-debuggable": True})
    facts = tee.verify_attestation_token(token, providers_for(maa), now=time.time())
    document = {"environment": "confidential-prod", "tee": facts}
    assert _confidential_findings(document) == {"SG-UNSEAL-105"}
    key = keyvault.parse_key_url(vault.key_id)
    with pytest.raises(DeniedError, match="fails its release policy") as denied:
        keyvault.release_key(key, token, vault_access(vault))
    assert "\n" not in str(denied.value)
    assert vault.released == []


def test_release_refuses_a_forged_token_an_unknown_identity_and_a_key_without_policy(
    maa: Running, rogue: Running, vault: StandInVault, tee_key: rsa.RSAPrivateKey
) -> None:
    key = keyvault.parse_key_url(vault.key_id)
    claims = claims_from("maa-sevsnp-container.json", maa.provider.issuer, tee_key.public_key())
    now = int(time.time())
    claims.update(iat=now, nbf=now, exp=now + 600)
    forged = rogue.provider.token(claims)  # right claims, signed by someone else's key
    with pytest.raises(DeniedError, match="release policy"):
        keyvault.release_key(key, forged, vault_access(vault))
    with pytest.raises(DeniedError, match="denied the request to release key model-export"):
        keyvault.release_key(key, live_token(maa, tee_key), vault_access(vault, "model-server"))
    vault.release_policy = None
    with pytest.raises(InputError, match="not exportable"):
        keyvault.release_key(key, live_token(maa, tee_key), vault_access(vault))
    assert vault.released == []
    with pytest.raises(InputError, match="release algorithm 'A256KW'"):
        keyvault.release_key(key, "token", vault_access(vault), algorithm="A256KW")


def test_release_answers_for_another_key_or_without_material_are_refused(
    maa: Running, vault: StandInVault, tee_key: rsa.RSAPrivateKey
) -> None:
    key = keyvault.parse_key_url(vault.key_id)
    token = live_token(maa, tee_key)

    def other_key(payload: dict[str, Any]) -> str:
        payload["response"]["key"]["key"]["kid"] = vault.key_id.replace("model-export", "other")
        return jwt.encode(payload, "k" * 32, "HS256")

    def no_material(payload: dict[str, Any]) -> str:
        del payload["response"]["key"]["key"]["key_hsm"]
        return jwt.encode(payload, "k" * 32, "HS256")

    cases = [
        (other_key, "for another key"),
        (no_material, "without wrapped key material"),
        (lambda payload: "not a jws", "not a signed release object"),
        (lambda payload: "a.b.c", "without wrapped key material"),
    ]
    for answer, problem in cases:
        vault.release_answer = answer
        with pytest.raises(VerificationError, match=problem):
            keyvault.release_key(key, token, vault_access(vault))
    released = keyvault.parse_release(_honest(vault, token), key, "CKM_RSA_AES_KEY_WRAP")
    with pytest.raises(VerificationError, match="protected with CKM_RSA_AES_KEY_WRAP, not"):
        keyvault.parse_release(released.value, key, "RSA_AES_KEY_WRAP_256")


def _honest(vault: StandInVault, token: str) -> str:
    vault.release_answer = None
    key = keyvault.parse_key_url(vault.key_id)
    return keyvault.release_key(key, token, vault_access(vault)).value
