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


_ENROL_HELP = """Create (or reuse) the device key and attestation key in the TPM and enrol the device.

With --keyserver, the device is registered with the key release service: the service checks
the EK (and its certificate), the AK and the AK's certification of the device key, and
registers the device only after the TPM activated its credential (MakeCredential against the
EK for the AK). That registration is what key release trusts.

The device keeps its TPM key blobs and its own record in PREFIX.tpm, PREFIX.json and
PREFIX.pub either way. Without --keyserver (development only) that record is all there is:
self-asserted by the device, outside the enforcement boundary; seal to tpm:PREFIX.pub for
offline tests.
"""


@device.command("enroll", help=_ENROL_HELP)
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
@click.option(
    "--keyserver",
    metavar="URL",
    help="Register the device with this key release service (https://...).",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the operator's bearer token for the key release service.",
)
@click.option(
    "--class",
    "device_class",
    help="The device class the service records (its golden PCR values in the unseal policy).",
)
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="CA certificates (PEM) for the key release service's TLS certificate.",
)
@click.option("--json", "json_output", is_flag=True, help="Print a JSON summary.")
def device_enroll(
    tcti: str,
    prefix: Path,
    pcr_policy: str,
    report_pcrs: str,
    keyserver: str | None,
    token_file: Path | None,
    device_class: str | None,
    ca_file: Path | None,
    json_output: bool,
) -> None:
    from sealgate.devices._enrollment import enroll_device
    from sealgate.devices._tpm import open_tpm

    if keyserver is None and (token_file or device_class or ca_file):
        raise click.UsageError("--token-file, --class and --ca-file go with --keyserver")
    if keyserver is not None and (token_file is None or device_class is None):
        raise click.UsageError("--keyserver needs --token-file and --class")
    enrollment = enroll_device(tcti, prefix, _pcr_list(pcr_policy))
    registered = None
    if keyserver is not None and token_file is not None and device_class is not None:
        from sealgate.devices._client import register_with_keyserver
        from sealgate.devices._http import KeyserverConnection

        connection = KeyserverConnection(keyserver, token=_read_token(token_file), ca_file=ca_file)
        registered = register_with_keyserver(
            enrollment, connection, device_class=device_class, tcti=tcti
        )
    with open_tpm(tcti) as tpm:
        values = tpm.read_pcrs(_pcr_list(report_pcrs))
    summary: dict[str, object] = {
        "device_id": enrollment.device_id,
        "ak_key_id": enrollment.ak_key_id,
        "registration_id": enrollment.record["dps"]["registration_id"],
        "public_key": f"{prefix}.pub",
        "enrollment": f"{prefix}.json",
        "pcr_policy": list(enrollment.keys.pcr_policy),
        "pcrs": {"sha256": {str(p): v.hex() for p, v in sorted(values.items())}},
        "keyserver": None if registered is None else {"url": keyserver, "class": device_class},
    }
    if registered is None:
        line = (
            f"enrolled device {enrollment.device_id} (AK {enrollment.ak_key_id[:16]}) for "
            f"development: seal to tpm:{prefix}.pub; enrolment in {prefix}.json"
        )
    else:
        line = (
            f"registered device {enrollment.device_id} (AK {enrollment.ak_key_id[:16]}, "
            f"class {device_class}) with {keyserver} after credential activation"
        )
    emit_summary(summary, json_output, line)


def _read_token(path: Path) -> str:
    from sealgate._paths import read_bounded
    from sealgate.errors import InputError

    token = read_bounded(path, 64 * 1024, "operator token").decode("utf-8", "replace").strip()
    if not token or any(c.isspace() for c in token):
        raise InputError(f"{path}: expected one bearer token")
    return token
