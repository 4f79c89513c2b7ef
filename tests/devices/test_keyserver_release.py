"""A device through the served key release service: `device enroll --keyserver` with an
operator token, then `unseal --keyserver --device`: the key is released to the TPM for a
granted model in the device's golden state, and refused otherwise (another model, a replayed
quote, a revoked device, a changed PCR).

Runs where the service and its fixtures (tests/keyserver) are part of the tree."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from unittest import mock

import pytest
import yaml

keyserver_fixtures = pytest.importorskip(
    "tests.keyserver.conftest", reason="the key release service's fixtures are not in this tree"
)
from sealgate.devices import open_release_device  # noqa: E402
from sealgate.devices._tpm import open_tpm  # noqa: E402
from sealgate.errors import DeniedError  # noqa: E402
from sealgate.runtime._client import KeyserverClient  # noqa: E402

from tests.conftest import run_sealgate  # noqa: E402

estate = keyserver_fixtures.estate  # the service's module-scoped estate (swtpm: conftest)


def device_id_of(enrolment: Path) -> str:
    return str(json.loads(enrolment.read_text())["device_id"])


def test_a_device_enrols_with_the_service_and_unseals_through_it(
    estate, swtpm_factory, tmp_path: Path
) -> None:
    tpm = swtpm_factory("edge")
    with open_tpm(tpm.tcti) as opened:
        golden = {str(p): v.hex() for p, v in opened.read_pcrs([0, 7]).items()}
    grants = keyserver_fixtures.unseal_grants(estate.issuer.issuer)
    grants["devices"] = [{"class": "gw", "environments": ["dev"], "models": ["detector"]}]
    grants["device_classes"] = {"gw": {"golden_pcrs": golden}}
    (estate.root / "unseal-data" / "data" / "unseal.yaml").write_text(yaml.safe_dump(grants))
    server = keyserver_fixtures.start_keyserver(estate.config, estate.pki.ca, tmp_path / "ks.log")
    try:

        def enroll(prefix: str, operator: Path) -> object:
            return run_sealgate(
                "device", "enroll", "--tcti", tpm.tcti, "--out", str(tmp_path / prefix),
                "--keyserver", server.url, "--token-file", str(operator), "--class", "gw",
                "--ca-file", str(estate.pki.ca), cwd=tmp_path,
            )  # fmt: skip

        def unseal(name: str, into: str) -> object:
            return run_sealgate(
                "unseal", str(estate.sealed[name]), "--keyserver", server.url,
                "--environment", "dev", "--device", str(tmp_path / "gw"),
                "--ca-bundle", str(estate.pki.ca), "--trust", str(estate.root / "release.pub"),
                "--into", str(tmp_path / into), "--allow-disk",
                cwd=estate.root, env={"SEALGATE_TPM_TCTI": tpm.tcti},
            )  # fmt: skip

        refused = enroll("other", estate.token(sub="not-an-operator"))
        assert refused.code == 1 and "not an enrolment operator" in refused.stderr
        enrolled = enroll("gw", estate.token(sub="operator-1"))
        assert enrolled.code == 0, enrolled.stderr

        released = unseal("detector", "out")
        assert released.code == 0, released.stderr
        for relative, data in estate.files["detector"].items():
            assert (tmp_path / "out" / relative).read_bytes() == data

        # A quote answers one challenge: the same release request sent again is a stale nonce.
        client = KeyserverClient(server.url, estate.pki.ca)
        challenge = client.post("/v1/challenges", {"device_id": device_id_of(tmp_path / "gw.json")})
        with mock.patch.dict(os.environ, {"SEALGATE_TPM_TCTI": tpm.tcti}):
            device = open_release_device(tmp_path / "gw")
            quote = device.quote(
                base64.b64decode(challenge["nonce"]), challenge["pcrs"], challenge["pcr_bank"]
            )
        seal = base64.b64encode((estate.sealed["detector"] / "seal.json").read_bytes()).decode()
        body = {
            "environment": "dev",
            "seal": seal,
            "device": {"id": device.device_id, "nonce": challenge["nonce"], "quote": quote},
        }
        assert client.post("/v1/release", body)["wrapped_key"]
        with pytest.raises(DeniedError, match="SG-UNSEAL-006"):
            client.post("/v1/release", body)

        denied = unseal("ranker", "ranker")  # not granted to the class
        assert denied.code == 1 and "SG-UNSEAL-009" in denied.stderr

        # Revoked in the policy data: the same enrolled, attested device gets nothing.
        device_id = device_id_of(tmp_path / "gw.json")
        revoked = {**grants, "revoked": {**grants["revoked"], "devices": [device_id]}}
        (estate.root / "unseal-data" / "data" / "unseal.yaml").write_text(yaml.safe_dump(revoked))
        keyserver_fixtures.stop(server.process)
        server = keyserver_fixtures.start_keyserver(
            estate.config, estate.pki.ca, tmp_path / "ks-revoked.log"
        )
        gone = unseal("detector", "revoked")
        assert gone.code == 1 and "SG-UNSEAL-004" in gone.stderr, gone.stderr
        assert not (tmp_path / "revoked").exists()
        (estate.root / "unseal-data" / "data" / "unseal.yaml").write_text(yaml.safe_dump(grants))
        keyserver_fixtures.stop(server.process)
        server = keyserver_fixtures.start_keyserver(
            estate.config, estate.pki.ca, tmp_path / "ks-again.log"
        )
        with open_tpm(tpm.tcti) as opened:
            opened.extend_pcr(7, hashlib.sha256(b"unsigned bootloader").digest())
        changed = unseal("detector", "after-extend")
        assert changed.code == 1 and "SG-UNSEAL-007" in changed.stderr
        assert not (tmp_path / "after-extend").exists()
    finally:
        keyserver_fixtures.stop(server.process)
