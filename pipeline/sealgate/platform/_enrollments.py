"""DPS individual enrollments (TPM attestation) from ``sealgate device enroll`` output.

Enrollments are data-plane objects of the Device Provisioning Service, so the Pulumi program
cannot declare them. ``python -m sealgate.platform._enrollments DPS_NAME PREFIX.json...`` prints, for each
enrolled device, the ``az iot dps enrollment create`` command that creates it (run it where the
Azure CLI is logged in); ``enrollment_body`` is the same enrollment as the DPS REST API body.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from sealgate._json import loads_unique
from sealgate.errors import InputError

_REGISTRATION_ID = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,127}$")


def read_enrollment(path: Path) -> tuple[str, str]:
    """(registration id, endorsement key) from a ``PREFIX.json`` written by ``device enroll``."""
    try:
        record = loads_unique(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the device enrollment: {exc}") from exc
    dps = record.get("dps") if isinstance(record, dict) else None
    if not isinstance(dps, dict) or dps.get("attestation") != "tpm":
        raise InputError(f"{path}: no TPM enrollment (`dps.attestation: tpm`)")
    registration_id, key = dps.get("registration_id"), dps.get("endorsement_key")
    if not isinstance(registration_id, str) or not _REGISTRATION_ID.match(registration_id):
        raise InputError(
            f"{path}: dps.registration_id {registration_id!r} is not a DPS registration id"
        )
    try:
        if not isinstance(key, str) or not base64.b64decode(key, validate=True):
            raise ValueError
    except (ValueError, binascii.Error):
        raise InputError(f"{path}: dps.endorsement_key is not base64") from None
    return registration_id, key


def enrollment_body(
    registration_id: str, endorsement_key: str, *, edge: bool = True
) -> dict[str, Any]:
    """The individual enrollment as the DPS service API takes it."""
    return {
        "registrationId": registration_id,
        "attestation": {"type": "tpm", "tpm": {"endorsementKey": endorsement_key}},
        "capabilities": {"iotEdge": edge},
        "provisioningStatus": "enabled",
    }


def az_command(
    dps_name: str, registration_id: str, endorsement_key: str, *, edge: bool = True
) -> list[str]:
    return [
        "az", "iot", "dps", "enrollment", "create",
        "--dps-name", dps_name,
        "--enrollment-id", registration_id,
        "--attestation-type", "tpm",
        "--endorsement-key", endorsement_key,
        "--edge-enabled", "true" if edge else "false",
        "--auth-type", "login",
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(
            "usage: python -m sealgate.platform._enrollments DPS_NAME PREFIX.json...",
            file=sys.stderr,
        )
        return 2
    try:
        for path in argv[1:]:
            registration_id, key = read_enrollment(Path(path))
            print(shlex.join(az_command(argv[0], registration_id, key)))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
