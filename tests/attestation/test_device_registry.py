"""The service's device attestation with real (software) TPMs: enrolment by credential
activation, challenge nonces, quotes verified with the enrolled AK, keys released to the TPM."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from sealgate.attestation import DeviceRegistry
from sealgate.devices import (
    Enrollment,
    activate_credential,
    answer_challenge,
    enroll_device,
    enrolment_request,
    open_release_device,
    release_context,
    unwrap_released_key,
)
from sealgate.devices._tpm import open_tpm
from sealgate.errors import InputError, VerificationError

PCRS = [0, 2, 4, 7]


def enrol(
    registry: DeviceRegistry, tcti: str, prefix: Path, device_class: str = "gw"
) -> Enrollment:
    enrollment = enroll_device(tcti, prefix)
    challenge = registry.begin_enrolment(
        enrolment_request(enrollment, device_class=device_class, tcti=tcti), operator="ops@example"
    )
    answer = activate_credential(enrollment, challenge, tcti=tcti)
    registered = registry.finish_enrolment(challenge["enrolment_id"], answer)
    assert registered == {"device_id": enrollment.device_id}
    return enrollment


def quote_for(registry: DeviceRegistry, enrollment: Enrollment, tcti: str) -> dict:
    challenge = registry.issue_nonce(enrollment.device_id)
    return answer_challenge(enrollment, challenge, PCRS, tcti=tcti)


def test_enrolled_device_answers_a_challenge_with_verified_facts(
    registry_factory, swtpm_factory, state, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    assert state.keys("enrolments/") == []  # consumed by the activation
    assert state.keys("devices/") == [f"devices/{enrollment.device_id}.json"]

    device = quote_for(registry, enrollment, tpm.tcti)
    consumer, attestation = registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")

    with open_tpm(tpm.tcti) as opened:
        current = {str(p): v.hex() for p, v in opened.read_pcrs(PCRS).items()}
    assert consumer == {
        "type": "device",
        "id": enrollment.device_id,
        "device_id": enrollment.device_id,
        "class": "gw",
        "enrolled": True,
        "ek_certificate": {"present": False, "verified": False, "issuer": None},
    }
    assert attestation == {
        "verified": True,
        "nonce_fresh": True,
        "pcr_bank": "sha256",
        "pcrs": current,
        "device_id": enrollment.device_id,
        "ak_key_id": enrollment.ak_key_id,
        "problems": [],
    }
    assert state.keys("nonces/") == []  # single use: consumed by the verification


def test_a_replayed_quote_is_not_fresh(registry_factory, swtpm_factory, tmp_path: Path) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    device = quote_for(registry, enrollment, tpm.tcti)
    assert registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")[1]["verified"]

    _, replayed = registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")
    assert replayed["nonce_fresh"] is False
    assert replayed["verified"] is False
    assert replayed["pcrs"] == {}
    assert any("already used" in problem for problem in replayed["problems"])


def test_a_nonce_the_service_never_issued_is_not_fresh(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    chosen = {"nonce": base64.b64encode(os.urandom(32)).decode()}
    device = answer_challenge(enrollment, chosen, PCRS, tcti=tpm.tcti)
    _, attestation = registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")
    assert (attestation["verified"], attestation["nonce_fresh"]) == (False, False)


def test_an_expired_nonce_is_not_fresh(
    registry_factory, swtpm_factory, clock, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    device = quote_for(registry, enrollment, tpm.tcti)
    clock.advance(seconds=61)
    _, attestation = registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")
    assert (attestation["verified"], attestation["nonce_fresh"]) == (False, False)
    assert "the nonce has expired" in attestation["problems"]


def test_replicas_share_nonces_and_only_one_accepts_each(
    registry_factory, swtpm_factory, state, tmp_path: Path
) -> None:
    first, second = registry_factory(), registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(first, tpm.tcti, tmp_path / "gw")
    device = quote_for(first, enrollment, tpm.tcti)
    assert second.verify_device(device, pcrs=PCRS, pcr_bank="sha256")[1]["verified"] is True
    assert first.verify_device(device, pcrs=PCRS, pcr_bank="sha256")[1]["nonce_fresh"] is False

    # Two replicas read the same nonce; the other one's conditional delete wins first.
    device = quote_for(first, enrollment, tpm.tcti)
    original_delete = state.delete

    def lose_the_race(key: str, tag: str) -> bool:
        assert original_delete(key, tag)  # the other replica consumed it
        return original_delete(key, tag)

    state.delete = lose_the_race
    _, attestation = second.verify_device(device, pcrs=PCRS, pcr_bank="sha256")
    assert (attestation["verified"], attestation["nonce_fresh"]) == (False, False)


def test_a_pcr_extended_after_enrolment_shows_in_the_facts(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    before = registry.verify_device(
        quote_for(registry, enrollment, tpm.tcti), pcrs=PCRS, pcr_bank="sha256"
    )[1]
    with open_tpm(tpm.tcti) as opened:
        opened.extend_pcr(7, hashlib.sha256(b"unsigned bootloader").digest())
    after = registry.verify_device(
        quote_for(registry, enrollment, tpm.tcti), pcrs=PCRS, pcr_bank="sha256"
    )[1]
    assert before["verified"] and after["verified"]  # a true statement of a changed state
    assert after["pcrs"]["7"] != before["pcrs"]["7"]
    assert {p: after["pcrs"][p] for p in "024"} == {p: before["pcrs"][p] for p in "024"}


def test_a_quote_by_another_tpm_does_not_verify(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm_a, tpm_b = swtpm_factory("a"), swtpm_factory("b")
    enrollment_a = enrol(registry, tpm_a.tcti, tmp_path / "a")
    enrollment_b = enrol(registry, tpm_b.tcti, tmp_path / "b")
    challenge = registry.issue_nonce(enrollment_a.device_id)
    device = answer_challenge(enrollment_b, challenge, PCRS, tcti=tpm_b.tcti)
    device["id"] = enrollment_a.device_id  # B answers A's challenge
    _, attestation = registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")
    assert attestation["verified"] is False
    assert any("enrolled AK" in problem for problem in attestation["problems"])


def test_an_unknown_device_is_a_fact_not_an_error(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enroll_device(tpm.tcti, tmp_path / "gw")  # keys made, never registered
    with pytest.raises(InputError, match="not enrolled"):
        registry.issue_nonce(enrollment.device_id)
    device = answer_challenge(
        enrollment, {"nonce": base64.b64encode(os.urandom(32)).decode()}, PCRS, tcti=tpm.tcti
    )
    consumer, attestation = registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")
    assert consumer["enrolled"] is False
    assert (attestation["verified"], attestation["nonce_fresh"]) == (False, False)


def test_malformed_device_requests_are_input_errors(registry_factory) -> None:
    registry = registry_factory()
    good_id = "ab" * 32
    for device in (
        {"id": "not-an-id", "nonce": "AA==", "quote": {}},
        {"id": good_id, "nonce": "***", "quote": {}},
        {"id": good_id, "nonce": base64.b64encode(b"x" * 33).decode(), "quote": {}},
        {"id": good_id, "nonce": "AA==", "quote": {"pcr_values": {"24": "00" * 32}}},
        {"id": good_id, "nonce": "AA==", "quote": {"pcr_values": {"7": "zz"}}},
    ):
        with pytest.raises(InputError):
            registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")


# ------------------------------------------------------------------ key release


def test_a_released_key_unwraps_only_in_the_enrolled_tpm(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    registry = registry_factory()
    tpm_a, tpm_b = swtpm_factory("a"), swtpm_factory("b")
    enrollment = enrol(registry, tpm_a.tcti, tmp_path / "a")
    data_key = os.urandom(32)
    nonce = os.urandom(32)
    context = release_context("seal-1", nonce)
    released = registry.wrap_for_device(enrollment.device_id, data_key, context)
    assert released["algorithm"] == "ECDH-ES-P256+HKDF-SHA256+A256KW"

    key = unwrap_released_key(enrollment, released, seal_id="seal-1", nonce=nonce, tcti=tpm_a.tcti)
    assert key == data_key
    with pytest.raises(VerificationError, match="does not load in this TPM"):
        unwrap_released_key(enrollment, released, seal_id="seal-1", nonce=nonce, tcti=tpm_b.tcti)
    with pytest.raises(VerificationError, match="does not open"):
        unwrap_released_key(enrollment, released, seal_id="seal-2", nonce=nonce, tcti=tpm_a.tcti)
    with pytest.raises(VerificationError, match="does not open"):
        unwrap_released_key(
            enrollment, released, seal_id="seal-1", nonce=os.urandom(32), tcti=tpm_a.tcti
        )


def test_the_device_release_flow_from_enrolment_to_unwrapped_key(
    registry_factory, swtpm_factory, tmp_path: Path
) -> None:
    """What the key release service does for a device, at function level."""
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    challenge = registry.issue_nonce(enrollment.device_id)
    device = answer_challenge(enrollment, challenge, PCRS, tcti=tpm.tcti)
    consumer, attestation = registry.verify_device(device, pcrs=PCRS, pcr_bank="sha256")
    assert consumer["enrolled"] and attestation["verified"] and attestation["nonce_fresh"]
    nonce = base64.b64decode(device["nonce"])
    data_key = os.urandom(32)
    released = registry.wrap_for_device(
        consumer["id"], data_key, release_context("sha256:" + "ab" * 32, nonce)
    )
    answer = {"wrapped_key": released["wrapped"], "algorithm": released["algorithm"]}
    assert (
        unwrap_released_key(
            enrollment, answer, seal_id="sha256:" + "ab" * 32, nonce=nonce, tcti=tpm.tcti
        )
        == data_key
    )


def test_the_release_device_quotes_and_unwraps_as_unseal_calls_it(
    registry_factory, swtpm_factory, tmp_path: Path, monkeypatch
) -> None:
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrol(registry, tpm.tcti, tmp_path / "gw")
    monkeypatch.setenv("SEALGATE_TPM_TCTI", tpm.tcti)
    device = open_release_device(tmp_path / "gw")
    challenge = registry.issue_nonce(device.device_id)
    nonce = base64.b64decode(challenge["nonce"])
    request = {"id": device.device_id, "nonce": challenge["nonce"]}
    request["quote"] = device.quote(nonce, PCRS, "sha256")
    consumer, attestation = registry.verify_device(request, pcrs=PCRS, pcr_bank="sha256")
    assert consumer["enrolled"] and attestation["verified"]

    seal_id = os.urandom(16)
    data_key = os.urandom(32)
    released = registry.wrap_for_device(device.device_id, data_key, release_context(seal_id, nonce))
    answer = {"wrapped_key": released["wrapped"], "algorithm": released["algorithm"]}
    assert device.unwrap_released(answer, release_context(seal_id, nonce)) == data_key
    with pytest.raises(VerificationError, match="does not open"):
        device.unwrap_released(answer, release_context(os.urandom(16), nonce))
    with pytest.raises(InputError, match="PCR bank sha1"):
        device.quote(nonce, PCRS, "sha1")


def test_outstanding_challenges_are_bounded_per_device(
    registry_factory, swtpm_factory, state, clock, tmp_path: Path
) -> None:
    """Anyone may ask for challenges; the store keeps at most 8 per device, newest first."""
    registry = registry_factory()
    tpm = swtpm_factory("a")
    enrollment = enrol(registry, tpm.tcti, tmp_path / "gw")
    challenges = [registry.issue_nonce(enrollment.device_id) for _ in range(10)]
    assert len(state.keys("nonces/")) == 8
    oldest = answer_challenge(enrollment, challenges[0], PCRS, tcti=tpm.tcti)
    _, attestation = registry.verify_device(oldest, pcrs=PCRS, pcr_bank="sha256")
    assert attestation["nonce_fresh"] is False  # evicted
    newest = answer_challenge(enrollment, challenges[-1], PCRS, tcti=tpm.tcti)
    assert registry.verify_device(newest, pcrs=PCRS, pcr_bank="sha256")[1]["verified"] is True

    clock.advance(seconds=61)
    registry.issue_nonce(enrollment.device_id)
    assert len(state.keys("nonces/")) == 1  # the expired ones were removed
