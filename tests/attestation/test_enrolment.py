"""Enrolment: an AK is registered only after credential activation proved it lives in the TPM
that holds the EK; the device key only with the AK's certification; EK certificates chain to
the configured manufacturer roots."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from sealgate.attestation import load_certificates
from sealgate.devices import (
    activate_credential,
    answer_challenge,
    enroll_device,
    enrolment_request,
)
from sealgate.devices._tpm import DeviceKeys, open_tpm, tpm_module
from sealgate.errors import DeniedError, InputError, VerificationError

from tests.attestation.test_device_registry import enrol


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def software_public(key: ec.EllipticCurvePrivateKey, attributes: int) -> bytes:
    """A TPM2B_PUBLIC for a key made outside any TPM, claiming whatever attributes we like."""
    t = tpm_module()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return bytes(t.types.TPM2B_PUBLIC.from_pem(pem, objectAttributes=attributes).marshal())


def ak_attributes() -> int:
    a = tpm_module().constants.TPMA_OBJECT
    return int(
        a.FIXEDTPM | a.FIXEDPARENT | a.SENSITIVEDATAORIGIN | a.USERWITHAUTH | a.RESTRICTED
        | a.SIGN_ENCRYPT
    )  # fmt: skip


def test_a_software_ak_is_never_registered(registry_factory, swtpm_factory, tmp_path: Path) -> None:
    """The attacker's AK is a software key that signs whatever it likes: here the TPM's own
    certification of the device key, re-signed. MakeCredential binds the secret to that AK's
    name, which no object in the TPM has, so activation fails and nothing is registered."""
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    request = enrolment_request(enrollment, device_class="gw", tcti=tpm.tcti)
    software_ak = ec.generate_private_key(ec.SECP256R1())
    attest = base64.b64decode(request["device_key_certification"]["attest"])
    r, s = decode_dss_signature(software_ak.sign(attest, ec.ECDSA(hashes.SHA256())))
    request["ak_public"] = b64(software_public(software_ak, ak_attributes()))
    request["device_key_certification"] = {
        "attest": b64(attest),
        "signature_r": b64(r.to_bytes(32, "big")),
        "signature_s": b64(s.to_bytes(32, "big")),
    }
    challenge = registry.begin_enrolment(request, operator="ops@example")  # signatures check out

    with pytest.raises(VerificationError, match="does not activate"):
        activate_credential(enrollment, challenge, tcti=tpm.tcti)
    with pytest.raises(DeniedError, match="not registered"):
        registry.finish_enrolment(challenge["enrolment_id"], {"secret": b64(os.urandom(32))})
    assert registry.device(enrollment.device_id) is None
    with pytest.raises(InputError, match="not enrolled"):
        registry.issue_nonce(enrollment.device_id)


def test_an_ak_from_another_tpm_than_the_ek_is_never_registered(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    """TPM B's AK and device key presented with TPM A's EK: A holds the EK but not the AK,
    B holds the AK but not the EK; neither can activate the credential."""
    registry = registry_factory()
    tpm_a, tpm_b = swtpm_factory("a"), swtpm_factory("b")
    enrollment_a = enroll_device(tpm_a.tcti, tmp_path / "a")
    enrollment_b = enroll_device(tpm_b.tcti, tmp_path / "b")
    request = enrolment_request(enrollment_b, device_class="gw", tcti=tpm_b.tcti)
    request["ek_public"] = enrolment_request(enrollment_a, device_class="gw", tcti=tpm_a.tcti)[
        "ek_public"
    ]
    challenge = registry.begin_enrolment(request, operator="ops@example")
    with pytest.raises(VerificationError, match="does not activate"):
        activate_credential(enrollment_b, challenge, tcti=tpm_b.tcti)
    with pytest.raises(VerificationError, match="does not load in this TPM"):
        activate_credential(enrollment_b, challenge, tcti=tpm_a.tcti)
    assert registry.device(enrollment_b.device_id) is None


def test_a_wrong_secret_is_refused_and_uses_up_the_enrolment(
    registry_factory, swtpm_factory, state, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    challenge = registry.begin_enrolment(
        enrolment_request(enrollment, device_class="gw", tcti=tpm.tcti), operator="ops@example"
    )
    right = activate_credential(enrollment, challenge, tcti=tpm.tcti)
    with pytest.raises(DeniedError, match="not registered"):
        registry.finish_enrolment(challenge["enrolment_id"], {"secret": b64(os.urandom(32))})
    with pytest.raises(DeniedError, match="unknown, expired or already used"):
        registry.finish_enrolment(challenge["enrolment_id"], right)  # no second guess
    assert registry.device(enrollment.device_id) is None
    assert state.keys("devices/") == []


def test_an_expired_enrolment_is_refused(
    registry_factory, swtpm_factory, clock, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    challenge = registry.begin_enrolment(
        enrolment_request(enrollment, device_class="gw", tcti=tpm.tcti), operator="ops@example"
    )
    answer = activate_credential(enrollment, challenge, tcti=tpm.tcti)
    clock.advance(minutes=11)
    with pytest.raises(DeniedError, match="expired"):
        registry.finish_enrolment(challenge["enrolment_id"], answer)
    assert registry.device(enrollment.device_id) is None


def test_a_device_key_the_tpm_could_export_is_refused(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    request = enrolment_request(enrollment, device_class="gw", tcti=tpm.tcti)
    a = tpm_module().constants.TPMA_OBJECT
    exportable = software_public(
        ec.generate_private_key(ec.SECP256R1()), int(a.USERWITHAUTH | a.DECRYPT)
    )
    request["device_key_public"] = b64(exportable)
    with pytest.raises(InputError, match=r"device key: .*missing .*fixedtpm"):
        registry.begin_enrolment(request, operator="ops@example")


def test_a_certification_of_another_object_is_refused(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    first = enroll_device(tpm.tcti, tmp_path / "first")
    second = enroll_device(tpm.tcti, tmp_path / "second")
    request = enrolment_request(first, device_class="gw", tcti=tpm.tcti)
    request["device_key_public"] = b64(second.keys.device_key.public)  # same TPM, other key
    with pytest.raises(InputError, match="certifies another object"):
        registry.begin_enrolment(request, operator="ops@example")


def test_malformed_enrolment_requests_are_input_errors(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    good = enrolment_request(enrollment, device_class="gw", tcti=tpm.tcti)
    for change in (
        {"class": "../etc"},
        {"ek_public": "not base64!"},
        {"ak_public": b64(b"\x00\x04abcd")},
        {"ek_public": good["ak_public"]},  # a signing key is no EK
        {"device_key_certification": None},
        {"ek_certificate": "A" * 40000},
    ):
        with pytest.raises(InputError):
            registry.begin_enrolment({**good, **change}, operator="ops@example")
    with pytest.raises(InputError):
        registry.finish_enrolment("../../devices/x", {"secret": b64(b"x")})


def test_enrolling_the_same_keys_again_changes_nothing(
    registry_factory, swtpm_factory, state, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    document = state.read(f"devices/{enrollment.device_id}.json")
    again = enroll_device(tpm.tcti, tmp_path / "gw")  # reuses gw.tpm: same device key and AK
    challenge = registry.begin_enrolment(
        enrolment_request(again, device_class="other", tcti=tpm.tcti), operator="ops@example"
    )
    answer = activate_credential(again, challenge, tcti=tpm.tcti)
    assert registry.finish_enrolment(challenge["enrolment_id"], answer) == {
        "device_id": enrollment.device_id
    }
    assert state.read(f"devices/{enrollment.device_id}.json") == document  # class unchanged


def test_an_enrolled_device_key_cannot_be_taken_over_by_another_ak(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    """A second AK in the same TPM certifies the enrolled device key: the registered AK stays."""
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    with open_tpm(tpm.tcti) as opened:
        other_ak = opened.create_keys().attestation_key
    other = dataclasses.replace(
        enrollment, keys=DeviceKeys(enrollment.keys.device_key, other_ak, ())
    )
    request = enrolment_request(other, device_class="gw", tcti=tpm.tcti)
    with pytest.raises(DeniedError, match="already enrolled with other keys"):
        registry.begin_enrolment(request, operator="ops@example")
    assert registry.device(enrollment.device_id)["ak_key_id"] == enrollment.ak_key_id


# ------------------------------------------------------------------ EK certificates


def other_root(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another TPM vendor root")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "other-root.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_an_ek_certificate_from_the_manufacturer_ca_verifies(
    registry_factory, manufactured_swtpm, state, tmp_path: Path
) -> None:
    tcti = manufactured_swtpm.tpm.tcti
    registry = registry_factory(
        ek_roots=load_certificates([manufactured_swtpm.root], "EK roots"),
        ek_intermediates=load_certificates([manufactured_swtpm.intermediate], "EK CAs"),
        require_ek_certificate=True,
    )
    enrollment = enrol(registry, tcti, tmp_path / "gw")
    challenge = registry.issue_nonce(enrollment.device_id)
    device = answer_challenge(enrollment, challenge, [0, 7], tcti=tcti)
    consumer, attestation = registry.verify_device(device, pcrs=[0, 7], pcr_bank="sha256")
    assert consumer["ek_certificate"] == {
        "present": True,
        "verified": True,
        "issuer": "CN=swtpm-localca",
    }
    assert attestation["verified"] is True


def test_an_ek_certificate_from_another_ca_does_not_verify(
    registry_factory, manufactured_swtpm, tmp_path: Path
) -> None:
    tcti = manufactured_swtpm.tpm.tcti
    roots = load_certificates([other_root(tmp_path)], "EK roots")
    intermediates = load_certificates([manufactured_swtpm.intermediate], "EK CAs")
    enrollment = enroll_device(tcti, tmp_path / "gw")
    request = enrolment_request(enrollment, device_class="gw", tcti=tcti)
    assert request["ek_certificate"] is not None

    strict = registry_factory(
        ek_roots=roots, ek_intermediates=intermediates, require_ek_certificate=True
    )
    with pytest.raises(DeniedError, match=r"EK certificate is required .*does not verify"):
        strict.begin_enrolment(request, operator="ops@example")

    lenient = registry_factory(ek_roots=roots, ek_intermediates=intermediates)
    enrolled = enrol(lenient, tcti, tmp_path / "gw")
    device = lenient.issue_nonce(enrolled.device_id)
    consumer, _ = lenient.verify_device(
        answer_challenge(enrolled, device, [7], tcti=tcti), pcrs=[7], pcr_bank="sha256"
    )
    assert consumer["ek_certificate"] == {
        "present": True,
        "verified": False,
        "issuer": "CN=swtpm-localca",
    }


def test_an_ek_certificate_for_another_ek_does_not_verify(
    registry_factory, manufactured_swtpm, swtpm_factory, tmp_path: Path
) -> None:
    """A genuine certificate copied from a manufactured TPM onto a TPM without one."""
    genuine = enroll_device(manufactured_swtpm.tpm.tcti, tmp_path / "genuine")
    certificate = enrolment_request(genuine, device_class="gw", tcti=manufactured_swtpm.tpm.tcti)[
        "ek_certificate"
    ]
    tpm = swtpm_factory("plain")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    request = enrolment_request(enrollment, device_class="gw", tcti=tpm.tcti)
    request["ek_certificate"] = certificate
    registry = registry_factory(
        ek_roots=load_certificates([manufactured_swtpm.root], "EK roots"),
        ek_intermediates=load_certificates([manufactured_swtpm.intermediate], "EK CAs"),
        require_ek_certificate=True,
    )
    with pytest.raises(DeniedError, match="certifies another key than the EK"):
        registry.begin_enrolment(request, operator="ops@example")


def test_a_tpm_without_ek_certificate_is_refused_when_one_is_required(
    registry_factory, manufactured_swtpm, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory(
        ek_roots=load_certificates([manufactured_swtpm.root], "EK roots"),
        require_ek_certificate=True,
    )
    tpm = swtpm_factory("plain")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")
    request = enrolment_request(enrollment, device_class="gw", tcti=tpm.tcti)
    assert request["ek_certificate"] is None
    with pytest.raises(DeniedError, match="no EK certificate"):
        registry.begin_enrolment(request, operator="ops@example")


def test_a_roots_file_with_the_vendor_intermediate_is_enough(
    registry_factory, manufactured_swtpm, tmp_path: Path
) -> None:
    """The service's configuration names PEM files; one bundle of root and intermediate."""
    bundle = tmp_path / "ek-roots.pem"
    bundle.write_bytes(
        manufactured_swtpm.root.read_bytes() + manufactured_swtpm.intermediate.read_bytes()
    )
    registry = registry_factory(ek_roots=[bundle], require_ek_certificate=True)
    enrollment = enrol(registry, manufactured_swtpm.tpm.tcti, tmp_path / "gw")
    assert registry.device(enrollment.device_id) is not None
    with pytest.raises(InputError, match="not a PEM certificate bundle"):
        registry_factory(ek_roots=[tmp_path / "gw.json"])
