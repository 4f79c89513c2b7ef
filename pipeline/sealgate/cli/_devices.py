"""``sealgate device``: edge devices with a TPM."""

from __future__ import annotations

from pathlib import Path

import click

from sealgate.cli._app import cli
from sealgate.cli._output import (
    emit_summary,
)


def _pcr_list(value: str) -> tuple[int, ...]:
    try:
        pcrs = tuple(int(p) for p in value.split(",") if p.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected PCR indexes like 0,2,4,7") from None
    if any(not 0 <= p <= 23 for p in pcrs):
        raise click.BadParameter(f"{value!r}: PCR indexes are 0-23")
    return pcrs


@cli.group()
def device() -> None:
    """Enrol edge devices: keys inside their TPM, endorsement data for provisioning."""


@device.command("enroll")
@click.option(
    "--tcti",
    required=True,
    envvar="SEALGATE_TPM_TCTI",
    help="The TPM, in tpm2-tss TCTI syntax: device:/dev/tpmrm0, swtpm:host=127.0.0.1,port=2321.",
)
@click.option(
    "--out",
    "prefix",
    required=True,
    type=click.Path(path_type=Path),
    help="Writes PREFIX.pub (seal to it), PREFIX.json (enrolment), PREFIX.tpm (TPM key blobs).",
)
@click.option(
    "--pcr-policy",
    default="",
    help="Bind the device key's use to these sha256 PCRs' current values, e.g. 7.",
)
@click.option(
    "--pcrs",
    "report_pcrs",
    default="0,2,4,7",
    show_default=True,
    help="PCRs whose current sha256 values are reported (candidate golden values).",
)
@click.option("--json", "json_output", is_flag=True, help="Print a JSON summary.")
def device_enroll(
    tcti: str, prefix: Path, pcr_policy: str, report_pcrs: str, json_output: bool
) -> None:
    """Create (or reuse) the device key and attestation key in the TPM and export the enrolment."""
    from sealgate.devices._enrollment import enroll_device
    from sealgate.devices._tpm import open_tpm

    enrollment = enroll_device(tcti, prefix, _pcr_list(pcr_policy))
    with open_tpm(tcti) as tpm:
        values = tpm.read_pcrs(_pcr_list(report_pcrs))
    emit_summary(
        {
            "device_id": enrollment.device_id,
            "ak_key_id": enrollment.ak_key_id,
            "registration_id": enrollment.record["dps"]["registration_id"],
            "public_key": f"{prefix}.pub",
            "enrollment": f"{prefix}.json",
            "pcr_policy": list(enrollment.keys.pcr_policy),
            "pcrs": {"sha256": {str(p): v.hex() for p, v in sorted(values.items())}},
        },
        json_output,
        f"enrolled device {enrollment.device_id} (AK {enrollment.ak_key_id[:16]}): "
        f"seal to tpm:{prefix}.pub; enrolment in {prefix}.json",
    )
