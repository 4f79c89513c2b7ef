"""Regression: an enrolment file's ``tcti`` cannot make sealgate run a command.

The attack: ``"tcti": "cmd:..."`` in ``PREFIX.json``; ``unseal --identity tpm:PREFIX`` handed it
to tpm2-tss, whose ``cmd`` TCTI ran it (as root on a device). Only ``device:``, ``mssim:`` and
``swtpm:`` with sane arguments are accepted, wherever a TCTI comes from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sealgate.devices._enrollment import FORMAT, load_enrollment, spki_key_id
from sealgate.devices._tpm import open_tpm
from sealgate.errors import InputError
from sealgate.sealing import parse_identity


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _write_enrolment(prefix: Path, tcti: str, *, raw: str | None = None) -> None:
    device_pem, ak_pem = _pem(), _pem()
    record = {
        "format": FORMAT,
        "device_id": spki_key_id(device_pem.encode()),
        "tcti": tcti,
        "device_key": {"algorithm": "ECC P-256 ECDH", "public_key": device_pem},
        "attestation_key": {"key_id": spki_key_id(ak_pem.encode()), "public_key": ak_pem},
    }
    text = json.dumps(record, indent=2)
    if raw is not None:
        text = text.replace(f'"tcti": {json.dumps(tcti)}', raw)
    Path(f"{prefix}.json").write_text(text)
    blob = {"public": "AA==", "private": "AA=="}
    Path(f"{prefix}.tpm").write_text(
        json.dumps(
            {"format": FORMAT, "device_key": blob, "attestation_key": blob, "pcr_policy": []}
        )
    )


def _command(marker: Path) -> str:
    return f"cmd:touch {marker}"


def test_a_cmd_tcti_in_the_enrolment_file_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _write_enrolment(tmp_path / "gw01", _command(marker))
    with pytest.raises(InputError, match=r"gw01\.json: refusing TCTI 'cmd:.*not accepted"):
        parse_identity(f"tpm:{tmp_path / 'gw01'}")  # what `unseal --identity tpm:gw01` does
    with pytest.raises(InputError, match="refusing TCTI"):
        load_enrollment(tmp_path / "gw01")
    assert not marker.exists()


def test_a_duplicate_tcti_key_in_the_enrolment_file_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    good = "swtpm:host=127.0.0.1,port=2321"
    _write_enrolment(
        tmp_path / "gw01", good, raw=f'"tcti": "{good}",\n  "tcti": "{_command(marker)}"'
    )
    with pytest.raises(InputError, match="duplicate key 'tcti'"):
        load_enrollment(tmp_path / "gw01")
    assert not marker.exists()


def test_open_tpm_refuses_a_cmd_tcti_from_any_source(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(InputError, match="refusing TCTI"), open_tpm(_command(marker)):
        pass
    assert not marker.exists()


@pytest.mark.parametrize(
    "tcti",
    [
        "device",
        "device:/dev/tpmrm0",
        "device:/dev/tpm0",
        "mssim",
        "mssim:host=localhost,port=2321",
        "swtpm:host=127.0.0.1,port=2321",
        "swtpm:port=2321",
        "swtpm:path=/run/swtpm/sock",
        "swtpm:host=::1,port=2321",
    ],
)
def test_accepted_tctis(tcti: str) -> None:
    from sealgate.devices._tcti import tcti_problem

    assert tcti_problem(tcti) is None


@pytest.mark.parametrize(
    "tcti",
    [
        "cmd:swtpm socket --tpm2",
        "tabrmd:bus_type=session",
        "libtss2-tcti-evil.so",
        "/tmp/evil.so:x",
        "device:/etc/shadow",
        "device:/dev/tpmrm0;id",
        "mssim:host=127.0.0.1,port=99999",
        "mssim:host=a b",
        "mssim:path=/tmp/sock",
        "swtpm:host=127.0.0.1,host=10.0.0.1",
        "swtpm:host=127.0.0.1,cmd=id",
        "swtpm:path=relative/sock",
        "swtpm:path=/run/../etc/passwd",
        "swtpm:host=127.0.0.1\n",
        "",
    ],
)
def test_refused_tctis(tcti: str) -> None:
    from sealgate.devices._tcti import tcti_problem

    assert tcti_problem(tcti) is not None


def test_the_platform_refuses_an_enrolment_record_with_a_duplicate_key(tmp_path: Path) -> None:
    from sealgate.platform._enrollments import read_enrollment

    path = tmp_path / "edge-01.json"
    path.write_text(
        '{"dps": {"attestation": "tpm", "registration_id": "k3v2abc",'
        ' "registration_id": "other", "endorsement_key": "AToAAQALAAMAsg=="}}'
    )
    with pytest.raises(InputError, match="duplicate key 'registration_id'"):
        read_enrollment(path)
