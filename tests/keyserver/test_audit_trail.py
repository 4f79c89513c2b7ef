"""The audit trail of a registry the key release service wrote to verifies with the gate key
and the service's key, and names the service's records as untrusted without it."""

from __future__ import annotations

import base64
import json

from sealgate.keyserver import ResponseKey, build_service, load_config
from sealgate.keyserver._release import Denied
from sealgate.promotion._registry import AUDIT_LOG
from sealgate.promotion._signed import key_id
from sealgate.sealing._signing_keys import load_signing_private_key

from tests.conftest import run_sealgate
from tests.keyserver.conftest import Estate


def _release_and_deny(estate: Estate) -> None:
    service = build_service(load_config(estate.config))
    try:

        def body(name: str) -> dict[str, object]:
            seal = (estate.sealed[name] / "seal.json").read_bytes()
            return {
                "environment": "dev",
                "seal": base64.b64encode(seal).decode(),
                "response_key": ResponseKey.generate().public_document(),
            }

        token = estate.token().read_text()
        assert service.release(body("detector"), token)["wrapped_key"]
        try:
            service.release(body("ranker"), token)  # the detector's identity: not granted
        except Denied as denied:
            assert any(r.startswith("SG-UNSEAL-009") for r in denied.reasons)
        else:
            raise AssertionError("the ranker was released to the detector's identity")
    finally:
        service.close()


def test_audit_verify_passes_with_the_service_key_and_names_its_records_without(
    estate: Estate,
) -> None:
    _release_and_deny(estate)
    records = [json.loads(line) for line in (estate.registry / AUDIT_LOG).read_bytes().splitlines()]
    releases = [r for r in records if r["action"] == "release"]
    assert [r["decision"] for r in releases] == ["allow", "deny"]
    registry = f"file://{estate.registry}"

    verified = run_sealgate(
        "audit", "verify", "--registry", registry, "--gate-pub", "gate.pub",
        "--writer-pub", "keyserver.pub", cwd=estate.root,
    )  # fmt: skip
    assert verified.code == 0, verified.stdout + verified.stderr
    assert f"audit trail verified: {len(records)} records" in verified.stdout
    assert "1 deny" in verified.stdout

    without = run_sealgate(
        "audit", "verify", "--registry", registry, "--gate-pub", "gate.pub", "--json",
        cwd=estate.root,
    )  # fmt: skip
    assert without.code == 1, without.stdout + without.stderr
    report = json.loads(without.stdout)
    first = releases[0]
    assert report["ok"] is False and report["bad_record"] == first["seq"]
    assert report["problem"] == (
        f"record {first['seq']} is signed by a key that is not trusted "
        f"(key id {first['gate_key_id']})"
    )
    assert first["gate_key_id"] == key_id(load_signing_private_key(estate.root / "keyserver.key"))
    assert first["actor"] == "keyserver:https://keys.dev.test"
    assert first["registry_id"] == records[0]["registry_id"]
