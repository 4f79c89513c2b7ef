"""Through the CLI against `sealgate keyserver serve` on 127.0.0.1: who gets which key."""

from __future__ import annotations

import json
from pathlib import Path

from tests.keyserver.conftest import AUDIENCE, RANKER_SA, TENANT, Estate, Server, UnsealRunner


def _records(estate: Estate) -> list[dict]:
    log = estate.registry / "audit" / "log.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def _release_records(estate: Estate) -> list[dict]:
    return [r for r in _records(estate) if r["action"] == "release"]


def test_granted_workload_gets_its_model_byte_identical(
    estate: Estate, unseal: UnsealRunner, tmp_path: Path
) -> None:
    before = len(_release_records(estate))
    done = unseal("detector", estate.token(), "--json")
    assert done.code == 0, done.stderr
    for relative, content in estate.files["detector"].items():
        assert (tmp_path / "out" / relative).read_bytes() == content
    assert json.loads(done.stdout)["recipient"] == "keyserver"
    [record] = _release_records(estate)[before:]
    assert record["decision"] == "allow"
    assert record["actor"] == "keyserver:https://keys.dev.test"
    assert record["request"]["digest"] == estate.digest("detector")


def test_aks_service_account_token_by_issuer_and_subject(
    estate: Estate, unseal: UnsealRunner, tmp_path: Path
) -> None:
    # An AKS projected token: no tenant or object id, the issuer and subject identify the pod.
    token = estate.write_token(
        estate.issuer.mint({"aud": AUDIENCE, "sub": RANKER_SA}, kid=list(estate.issuer.keys)[1])
    )
    done = unseal("ranker", token)
    assert done.code == 0, done.stderr
    for relative, content in estate.files["ranker"].items():
        assert (tmp_path / "out" / relative).read_bytes() == content


def test_workload_granted_another_model_is_denied_with_the_rule_and_gets_no_key(
    estate: Estate, unseal: UnsealRunner, tmp_path: Path
) -> None:
    before = len(_release_records(estate))
    denied = unseal("ranker", estate.token())
    assert denied.code == 1, denied.stderr
    assert "SG-UNSEAL-009" in denied.stderr and "HTTP 403" in denied.stderr
    assert denied.stderr.count("\n") == 1 and "Traceback" not in denied.stderr
    assert not (tmp_path / "out").exists()
    [record] = _release_records(estate)[before:]
    assert record["decision"] == "deny" and any("SG-UNSEAL-009" in r for r in record["reasons"])


def test_tokens_that_authenticate_no_one_get_401_and_no_key(
    estate: Estate, unseal: UnsealRunner, tmp_path: Path
) -> None:
    issuer = estate.issuer
    claims = {
        "aud": AUDIENCE,
        "tid": TENANT,
        "oid": "0d6f3a2b-5c4e-4f1a-9b8c-7d6e5f4a3b2c",
        "sub": "x",
    }
    expired = issuer.mint({**claims, "iat": 1, "nbf": 1}, lifetime=-3600)
    wrong_audience = issuer.mint({**claims, "aud": "api://someone-else"})
    unknown_issuer = issuer.mint({**claims, "iss": "https://login.example/other/v2.0"})
    forged = wrong_signature(issuer.mint(claims))
    hmac = hs256_token(claims, issuer.issuer)
    cases = {
        "expired": (expired, "has expired"),
        "audience": (wrong_audience, "not for this service"),
        "issuer": (unknown_issuer, "is not trusted"),
        "forged": (forged, "signature does not verify"),
        "hs256": (hmac, "is not one of RS256, ES256"),
    }
    before = len(_release_records(estate))
    for name, (token, reason) in cases.items():
        denied = unseal("detector", estate.write_token(token), into=tmp_path / name)
        assert denied.code == 1, (name, denied.stderr)
        assert "HTTP 401" in denied.stderr and reason in denied.stderr, (name, denied.stderr)
        assert not (tmp_path / name).exists()
    # Nobody was authenticated, so no decision was taken and none recorded.
    assert len(_release_records(estate)) == before


def wrong_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{header}.{payload}.{flipped}"


def hs256_token(claims: dict, issuer: str) -> str:
    import time

    import jwt

    now = int(time.time())
    return jwt.encode(
        {**claims, "iss": issuer, "exp": now + 600},
        "shared-secret-guess-0123456789abcdef",
        algorithm="HS256",
        headers={"kid": "x"},
    )


def test_unreachable_key_server_is_the_outage_exit_code(estate: Estate, tmp_path: Path) -> None:
    from tests.conftest import run_sealgate
    from tests.keyserver.conftest import _free_port

    port = _free_port()
    done = run_sealgate(
        "unseal", str(estate.sealed["detector"]), "--keyserver", f"https://127.0.0.1:{port}",
        "--environment", "dev", "--token-file", str(estate.token()), "--ca-bundle",
        str(estate.pki.ca), "--trust", str(estate.root / "release.pub"),
        "--into", str(tmp_path / "out"), "--allow-disk", cwd=estate.root,
    )  # fmt: skip
    assert done.code == 3, done.stderr
    assert "unreachable" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_consumer_has_no_key_vault_identity_path(estate: Estate, tmp_path: Path) -> None:
    from tests.conftest import run_sealgate

    done = run_sealgate(
        "unseal", str(estate.sealed["detector"]),
        "--identity", "keyvault:https://vault.example/keys/kek/0123",
        "--trust", str(estate.root / "release.pub"), "--into", str(tmp_path / "out"),
        "--allow-disk", "--environment", "dev", cwd=estate.root,
    )  # fmt: skip
    assert done.code == 2
    assert "unwrapped only by the key release service" in done.stderr


def test_health_and_malformed_requests(keyserver: Server, estate: Estate) -> None:
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=str(estate.pki.ca))

    def post(
        body: bytes, content_type: str = "application/json", path: str = "/v1/release"
    ) -> tuple[int, dict]:
        request = urllib.request.Request(  # noqa: S310 - https to the test server
            keyserver.url + path, data=body, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert post(b"not json", "text/plain")[0] == 415
    assert post(b"[1, 2]")[0] == 400
    status, body = post(json.dumps({"environment": "prod", "seal": ""}).encode())
    assert status == 400 and "not served" in body["reasons"][0]
    # Over the body limit: refused from the declared length, before the body is read.
    import http.client

    host, port = keyserver.url.removeprefix("https://").split(":")
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
    connection.putrequest("POST", "/v1/release")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(5 * 1024 * 1024))
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413 and "over" in json.loads(answer.read())["error"]
    connection.close()
    # A seal that is not a signed header is a denial, before anyone is asked who they are.
    status, body = post(json.dumps({"environment": "dev", "seal": "", "response_key": {}}).encode())
    assert status == 400 and "response_key" in body["reasons"][0]
    status, body = post(
        json.dumps({"environment": "dev", "seal": "e30=", "device": {"id": "d"}}).encode()
    )
    assert status == 403 and body["reasons"][0].startswith("seal: ")
    try:
        import sealgate.attestation  # noqa: F401
    except ImportError:
        # Without device attestation in this build, the device routes say so, with one line.
        status, body = post(json.dumps({"device_id": "d"}).encode(), path="/v1/challenges")
        assert status == 503 and "not available" in body["reasons"][0]


def test_a_model_not_promoted_to_the_stage_is_denied(
    estate: Estate, keyserver: Server, tmp_path: Path
) -> None:
    from tests.conftest import run_sealgate

    # The granted model's name, a version that was never pushed: dev points at 1.0.
    sealed = tmp_path / "sealed-detector-3.0"
    done = run_sealgate(
        "seal", str(estate.root / "model-detector"), "--name", "detector", "--version", "3.0",
        "--sign-key", "release.key", "--recipient", "local:kek-dev.pub", "--out", str(sealed),
        cwd=estate.root,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    done = run_sealgate(
        "unseal", str(sealed), "--keyserver", keyserver.url, "--environment", "dev",
        "--token-file", str(estate.token()), "--ca-bundle", str(estate.pki.ca),
        "--trust", str(estate.root / "release.pub"), "--into", str(tmp_path / "out"),
        "--allow-disk", cwd=estate.root,
    )  # fmt: skip
    assert done.code == 1, done.stderr
    assert "SG-UNSEAL-008" in done.stderr and "SG-UNSEAL-009" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_model_signed_by_a_signer_the_service_does_not_trust_is_denied(
    estate: Estate, keyserver: Server, tmp_path: Path
) -> None:
    from sealgate.sealing import generate_signing_key

    from tests.conftest import run_sealgate

    generate_signing_key(tmp_path / "rogue")
    out = tmp_path / "sealed-rogue"
    sealed = run_sealgate(
        "seal", str(estate.root / "model-detector"), "--name", "detector", "--version", "1.0",
        "--sign-key", str(tmp_path / "rogue.key"), "--recipient", "local:kek-dev.pub",
        "--out", str(out), cwd=estate.root,
    )  # fmt: skip
    assert sealed.code == 0, sealed.stderr
    # The consumer trusts the rogue key; the service's own trust file decides.
    done = run_sealgate(
        "unseal", str(out), "--keyserver", keyserver.url, "--environment", "dev",
        "--token-file", str(estate.token()), "--ca-bundle", str(estate.pki.ca),
        "--trust", str(tmp_path / "rogue.pub"), "--into", str(tmp_path / "out"),
        "--allow-disk", cwd=estate.root,
    )  # fmt: skip
    assert done.code == 1, done.stderr
    assert "HTTP 403" in done.stderr and "seal: " in done.stderr
    assert not (tmp_path / "out").exists()
