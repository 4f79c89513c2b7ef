"""The keyserver.yaml ``enrolment`` section builds the registry; mistakes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.attestation import registry_from_config
from sealgate.devices import enroll_device, enrolment_request
from sealgate.errors import DeniedError, InputError

from tests.attestation.test_device_registry import enrol


def test_the_configured_roots_decide_enrolment(
    state, manufactured_swtpm, swtpm_factory, tmp_path: Path
) -> None:
    (tmp_path / "roots.pem").write_bytes(manufactured_swtpm.root.read_bytes())
    (tmp_path / "cas.pem").write_bytes(manufactured_swtpm.intermediate.read_bytes())
    registry = registry_from_config(
        state,
        {
            "operators": ["ops@example"],
            "ek_roots": ["roots.pem"],
            "ek_intermediates": ["cas.pem"],
            "require_ek_certificate": True,
        },
        base_dir=tmp_path,
    )
    enrolled = enrol(registry, manufactured_swtpm.tpm.tcti, tmp_path / "gw")
    assert registry.device(enrolled.device_id) is not None
    plain = swtpm_factory("plain")
    enrollment = enroll_device(plain.tcti, tmp_path / "plain")
    with pytest.raises(DeniedError, match="EK certificate is required"):
        registry.begin_enrolment(
            enrolment_request(enrollment, device_class="gw", tcti=plain.tcti),
            operator="ops@example",
        )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"require_ek_certificate": "yes"}, "true/false"),
        ({"require_ek_certificate": True}, "needs enrolment.ek_roots"),
        ({"require_ek_certifcate": True}, "unknown enrolment keys"),
        ({"ek_roots": "roots.pem"}, "list of PEM files"),
        ({"ek_roots": ["missing.pem"]}, "missing.pem"),
        ({"nonce_ttl_seconds": 0}, "1-3600"),
    ],
)
def test_configuration_mistakes_are_refused(state, tmp_path: Path, section, message) -> None:
    with pytest.raises(InputError, match=message):
        registry_from_config(state, section, base_dir=tmp_path)
