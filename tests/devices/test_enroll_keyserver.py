"""`sealgate device enroll --keyserver`: the device registers with the service through the
HTTP contract, after activating its credential in the TPM; the offline path stays as it was."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest
from sealgate.devices import (
    KeyserverConnection,
    ServiceError,
    answer_challenge,
    enroll_device,
    unwrap_released_key,
)
from sealgate.errors import DeniedError, InputError, VerificationError

from tests.devices.conftest import OPERATOR_TOKEN


def _token(tmp_path: Path, token: str = OPERATOR_TOKEN) -> Path:
    path = tmp_path / "operator.token"
    path.write_text(token + "\n")
    return path


def test_enroll_registers_the_device_with_the_keyserver(
    sealgate, swtpm_factory, device_service, tmp_path: Path
) -> None:
    tpm = swtpm_factory("a")
    result = sealgate(
        "device", "enroll", "--tcti", tpm.tcti, "--out", "gw",
        "--keyserver", device_service.url, "--token-file", str(_token(tmp_path)),
        "--class", "gateway", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    record = device_service.registry.device(summary["device_id"])
    assert record is not None
    assert (record["class"], record["ak_key_id"], record["enrolled_by"]) == (
        "gateway",
        summary["ak_key_id"],
        "ops@example",
    )
    assert summary["keyserver"] == {"url": device_service.url, "class": "gateway"}
    paths = [path for path, _ in device_service.requests]
    assert len(paths) == 2 and paths[0] == "/v1/devices"
    assert re.fullmatch(r"/v1/devices/[0-9a-f]{32}/activation", paths[1])
    assert {auth for _, auth in device_service.requests} == {f"Bearer {OPERATOR_TOKEN}"}


def test_a_bad_operator_token_registers_nothing(
    sealgate, swtpm_factory, device_service, tmp_path: Path
) -> None:
    tpm = swtpm_factory("a")
    result = sealgate(
        "device", "enroll", "--tcti", tpm.tcti, "--out", "gw",
        "--keyserver", device_service.url, "--token-file", str(_token(tmp_path, "forged")),
        "--class", "gateway",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 1
    assert "401 unauthorized: bad operator token" in result.stderr
    assert "Traceback" not in result.stderr
    assert device_service.state.keys("devices/") == []


def test_keyserver_options_are_checked_before_the_tpm_is_touched(sealgate, tmp_path: Path) -> None:
    unreachable_tpm = "swtpm:host=127.0.0.1,port=1"
    for args in (
        ["--keyserver", "https://keys.example"],  # no token, no class
        ["--token-file", str(_token(tmp_path)), "--class", "gw"],  # no keyserver
        [
            "--keyserver",
            "http://keys.example",
            "--token-file",
            str(_token(tmp_path)),
            "--class",
            "gw",
        ],
    ):
        result = sealgate(
            "device", "enroll", "--tcti", unreachable_tpm, "--out", "gw", *args, cwd=tmp_path
        )
        assert result.code == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "gw.tpm").exists()


def test_offline_enrolment_is_still_written_for_development(
    sealgate, swtpm_factory, tmp_path: Path
) -> None:
    tpm = swtpm_factory("a")
    result = sealgate("device", "enroll", "--tcti", tpm.tcti, "--out", "gw", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "for development" in result.stdout
    assert {p.name for p in tmp_path.glob("gw.*")} == {"gw.json", "gw.pub", "gw.tpm"}


def test_the_connection_maps_the_service_answers_to_errors(device_service) -> None:
    connection = KeyserverConnection(device_service.url, token=OPERATOR_TOKEN)
    with pytest.raises(InputError, match="enrolment request: class is missing"):
        connection.post("/v1/devices", {})
    with pytest.raises(DeniedError, match=r"403 denied: enrolment 0+ is unknown"):
        connection.post(f"/v1/devices/{'0' * 32}/activation", {"secret": "AA=="})
    device_service.fail_with = 503
    with pytest.raises(ServiceError, match="503 dependency failed"):
        connection.post("/v1/devices", {})
    with pytest.raises(ServiceError, match="unreachable"):
        KeyserverConnection("http://127.0.0.1:1").post("/v1/devices", {})
    with pytest.raises(InputError, match="plain HTTP only to a loopback address"):
        KeyserverConnection("http://10.0.0.1:8443")


def test_the_device_quotes_the_pcrs_the_challenge_names(swtpm_factory, tmp_path: Path) -> None:
    tpm = swtpm_factory("a")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    nonce = base64.b64encode(os.urandom(32)).decode()
    device = answer_challenge(enrollment, {"nonce": nonce, "pcrs": [0, 7]}, tcti=tpm.tcti)
    assert sorted(device["quote"]["pcr_values"]) == ["0", "7"]
    assert device["nonce"] == nonce and device["id"] == enrollment.device_id
    for challenge in ({"nonce": nonce}, {"nonce": nonce, "pcrs": [24]}, {"nonce": "%%"}):
        with pytest.raises(InputError):
            answer_challenge(enrollment, challenge, tcti=tpm.tcti)


def test_a_released_key_in_another_format_is_refused(swtpm_factory, tmp_path: Path) -> None:
    tpm = swtpm_factory("a")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    for answer in (
        {"algorithm": "HPKE-Base-X25519", "wrapped_key": "AAAA"},
        {"algorithm": "ECDH-ES-P256+HKDF-SHA256+A256KW", "wrapped_key": "AAAA"},  # truncated
    ):
        with pytest.raises(VerificationError):
            unwrap_released_key(
                enrollment, answer, seal_id="s", nonce=os.urandom(32), tcti=tpm.tcti
            )
