"""DPS TPM enrollments from `sealgate device enroll` output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.platform._enrollments import az_command, enrollment_body, main, read_enrollment

RECORD = {
    "dps": {
        "attestation": "tpm",
        "registration_id": "k3v2abc",
        "endorsement_key": "AToAAQALAAMAsg==",
    }
}


def write(tmp_path: Path, record: object) -> Path:
    path = tmp_path / "edge-01.json"
    path.write_text(json.dumps(record))
    return path


def test_enrollment_from_device_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, RECORD)
    assert read_enrollment(path) == ("k3v2abc", "AToAAQALAAMAsg==")
    assert enrollment_body("k3v2abc", "AToAAQALAAMAsg==")["attestation"] == {
        "type": "tpm",
        "tpm": {"endorsementKey": "AToAAQALAAMAsg=="},
    }
    command = az_command("sealgate-prod-dps", "k3v2abc", "AToAAQALAAMAsg==")
    assert command[command.index("--enrollment-id") + 1] == "k3v2abc"
    assert command[command.index("--attestation-type") + 1] == "tpm"
    assert main(["sealgate-prod-dps", str(path)]) == 0
    assert capsys.readouterr().out.startswith(
        "az iot dps enrollment create --dps-name sealgate-prod-dps"
    )


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"dps": {"attestation": "x509"}}, "no TPM enrollment"),
        ({"dps": {**RECORD["dps"], "registration_id": "Bad ID"}}, "not a DPS registration id"),
        ({"dps": {**RECORD["dps"], "endorsement_key": "not base64!"}}, "not base64"),
    ],
)
def test_bad_records_are_refused(tmp_path: Path, record: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_enrollment(write(tmp_path, record))
