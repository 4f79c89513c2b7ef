"""`sealgate device enroll --keyserver`: the device registers with the service through the
HTTP contract, after activating its credential in the TPM; the offline path stays as it was."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sealgate.devices import KeyserverConnection, ServiceError
from sealgate.errors import DeniedError, InputError

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
