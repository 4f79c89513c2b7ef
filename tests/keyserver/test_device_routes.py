"""The device routes delegate to the DeviceAttestation protocol; the consumer's device path
(challenge, quote, release, unwrap) is wired by the same contract.

``sealgate.attestation`` (server side) and ``sealgate.devices`` (TPM side) implement these
for real with swtpm; here a minimal in-test pair stands in for both, so what is tested is the
service's routing, operator authentication, facts and key binding.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
from sealgate.errors import InputError
from sealgate.keyserver import build_service, create_app, load_config
from sealgate.runtime import unseal_model
from sealgate.runtime._client import KeyserverClient
from sealgate.runtime._keyserver_release import KeyserverRelease
from sealgate.sealing import load_trust
from werkzeug.serving import make_server

from tests.keyserver.conftest import AUDIENCE, Estate, wait_healthy

DEVICE_SECRET = secrets.token_bytes(32)  # what "the TPM" shares with the fake registry


class FakeAttestation:
    """Records what the service asked; nonces single use; one device, class gw."""

    def __init__(self) -> None:
        self.nonces: set[bytes] = set()
        self.calls: list[tuple[str, Any]] = []

    def begin_enrolment(self, request: Mapping[str, Any], *, operator: str) -> dict[str, Any]:
        if "ek_public" not in request:
            raise InputError("ek_public is required")
        self.calls.append(("begin", operator))
        return {"enrolment_id": "e-1", "credential_blob": "AA==", "encrypted_secret": "AA=="}

    def finish_enrolment(self, enrolment_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("finish", enrolment_id))
        return {"device_id": "gw-1"}

    def issue_nonce(self, device_id: str) -> dict[str, Any]:
        nonce = secrets.token_bytes(32)
        self.nonces.add(nonce)
        return {"nonce": base64.b64encode(nonce).decode(), "expires": "2999-01-01T00:00:00Z"}

    def verify_device(
        self, device: Mapping[str, Any], *, pcrs: Sequence[int], pcr_bank: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        nonce = base64.b64decode(device["nonce"])
        fresh = nonce in self.nonces
        self.nonces.discard(nonce)
        self.calls.append(("verify", (device["quote"], list(pcrs), pcr_bank)))
        consumer = {"type": "device", "id": device["id"], "class": "gw", "enrolled": True}
        attestation = {"verified": device["quote"] == {"signed": "ok"}, "nonce_fresh": fresh,
                       "device_id": device["id"], "pcr_bank": pcr_bank,
                       "pcrs": {"0": "aa", "7": "bb"}, "problems": []}  # fmt: skip
        return consumer, attestation

    def wrap_for_device(self, device_id: str, data_key: bytes, context: bytes) -> dict[str, Any]:
        self.calls.append(("wrap", context))
        wrapped = aes_key_wrap(_kek(context), data_key)
        return {"algorithm": "TEST-A256KW", "wrapped": base64.b64encode(wrapped).decode()}


def _kek(context: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(DEVICE_SECRET + context).digest()


class FakeDevice:
    device_id = "gw-1"

    def __init__(self, quote: dict[str, Any]) -> None:
        self._quote = quote

    def quote(self, nonce: bytes, pcrs: Sequence[int], pcr_bank: str) -> dict[str, Any]:
        return self._quote

    def unwrap_released(self, answer: Mapping[str, Any], context: bytes) -> bytes:
        return aes_key_unwrap(_kek(context), base64.b64decode(answer["wrapped_key"]))


@pytest.fixture(scope="module")
def device_server(estate: Estate) -> Iterator[tuple[str, FakeAttestation]]:
    data = estate.root / "device-data" / "data"
    data.mkdir(parents=True)
    grants = yaml.safe_load((estate.root / "unseal-data" / "data" / "unseal.yaml").read_text())
    grants["device_classes"] = {"gw": {"golden_pcrs": {"0": "aa", "7": "bb"}}}
    grants["devices"] = [{"class": "gw", "environments": ["dev"], "models": ["detector"]}]
    (data / "unseal.yaml").write_text(yaml.safe_dump(grants))
    config = yaml.safe_load(estate.config.read_text())
    config["policies"] = ["device-data"]
    path = estate.root / "keyserver-devices.yaml"
    path.write_text(yaml.safe_dump(config))
    fake = FakeAttestation()
    service = build_service(load_config(path), devices=fake)
    app = create_app(service, operators=("operator-1",))
    server = make_server(
        "127.0.0.1", 0, app, threaded=True,
        ssl_context=(str(estate.pki.certificate), str(estate.pki.key)),
    )  # fmt: skip
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_port}"
    wait_healthy(url, estate.pki.ca, None, None)
    try:
        yield url, fake
    finally:
        server.shutdown()
        service.close()


def _release(estate: Estate, url: str, quote: dict[str, Any], into: Path) -> None:
    release = KeyserverRelease(KeyserverClient(url, estate.pki.ca), "dev", device=FakeDevice(quote))
    unseal_model(
        estate.sealed["detector"],
        into,
        identities=[],
        trust=load_trust(estate.root / "release.pub"),
        allow_disk=True,
        key_release=release,
    )


def test_an_attested_device_gets_its_model_bound_to_its_nonce(
    estate: Estate, device_server: tuple[str, FakeAttestation], tmp_path: Path
) -> None:
    url, fake = device_server
    _release(estate, url, {"signed": "ok"}, tmp_path / "out")
    for relative, content in estate.files["detector"].items():
        assert (tmp_path / "out" / relative).read_bytes() == content
    verify = [c for c in fake.calls if c[0] == "verify"][-1]
    assert verify[1][1:] == ([0, 7], "sha256")  # the policy's PCRs, from the challenge
    context = [c for c in fake.calls if c[0] == "wrap"][-1][1]
    assert context.startswith(b"sealgate-key-release/v1\x00")


def test_a_bad_quote_is_a_policy_denial_and_no_key_is_wrapped(
    estate: Estate, device_server: tuple[str, FakeAttestation], tmp_path: Path
) -> None:
    from sealgate.errors import DeniedError

    url, fake = device_server
    wraps = sum(1 for c in fake.calls if c[0] == "wrap")
    with pytest.raises(DeniedError, match="SG-UNSEAL-005"):
        _release(estate, url, {"signed": "by a software key"}, tmp_path / "out")
    assert sum(1 for c in fake.calls if c[0] == "wrap") == wraps
    assert not (tmp_path / "out").exists()


def test_enrolment_needs_an_operator_token(
    estate: Estate, device_server: tuple[str, FakeAttestation]
) -> None:
    from sealgate.errors import DeniedError

    url, fake = device_server
    client = KeyserverClient(url, estate.pki.ca)
    with pytest.raises(DeniedError, match="HTTP 401"):
        client.post("/v1/devices", {"ek_public": "x"})
    workload = estate.issuer.mint({"aud": AUDIENCE, "sub": "someone"})
    with pytest.raises(DeniedError, match="is not an enrolment operator"):
        client.post("/v1/devices", {"ek_public": "x"}, bearer=workload)
    operator = estate.issuer.mint({"aud": AUDIENCE, "sub": "operator-1"})
    assert client.post("/v1/devices", {"ek_public": "x"}, bearer=operator)["enrolment_id"] == "e-1"
    with pytest.raises(InputError, match="HTTP 400"):
        client.post("/v1/devices", {}, bearer=operator)
    answer = client.post("/v1/devices/e-1/activation", {"secret": "s"}, bearer=operator)
    assert answer == {"device_id": "gw-1"}
    assert ("begin", f"{estate.issuer.issuer}#operator-1") in fake.calls
