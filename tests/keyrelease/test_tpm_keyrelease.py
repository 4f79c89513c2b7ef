"""Seal to a swtpm device, unseal on it; another device or a changed PCR gets nothing."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest
from sealgate.devices._enrollment import enroll_device
from sealgate.devices._quote import verify_quote
from sealgate.devices._tpm import open_tpm
from sealgate.errors import DeniedError, VerificationError
from sealgate.policy._engine import create_engine
from sealgate.policy._loader import load_policy_set
from sealgate.runtime._authorization import UnsealAuthorizer
from sealgate.runtime._unseal import unseal_model
from sealgate.sealing import (
    SealOptions,
    generate_signing_key,
    load_signing_private_key,
    load_trust,
    parse_identity,
    parse_recipient,
    seal_model,
)
from sealgate.sealing.recipients._tpm import TCTI_ENV

from tests.keyrelease.conftest import FakeRegistry, unseal_policy_data, unseal_policy_tree
from tests.sealing.conftest import write_model

PCRS = [0, 2, 4, 7]


def _setup(tmp_path: Path, swtpm_factory, *, pcr_policy: tuple[int, ...] = ()):  # type: ignore[no-untyped-def]
    device = swtpm_factory("a")
    enrollment = enroll_device(device.tcti, tmp_path / "gw-a", pcr_policy)
    with open_tpm(device.tcti) as tpm:
        golden = {str(p): v.hex() for p, v in tpm.read_pcrs(PCRS).items()}
    model_dir = tmp_path / "model"
    files = write_model(model_dir)
    generate_signing_key(tmp_path / "signer")
    sealed = tmp_path / "sealed"
    seal_model(
        model_dir,
        sealed,
        name="detector",
        version="2.0",
        signing_key=load_signing_private_key(tmp_path / "signer.key"),
        recipients=[parse_recipient(f"tpm:{tmp_path / 'gw-a.pub'}")],
        options=SealOptions(chunk_size=256),
    )
    digest = "sha256:" + hashlib.sha256((sealed / "seal.json").read_bytes()).hexdigest()
    config = {
        "environments": {"edge-prod": {"stage": "prod"}},
        "attestation": {"pcr_bank": "sha256", "pcrs": PCRS},
        "device_classes": {"gw": {"golden_pcrs": golden}},
        "devices": [
            {
                "id": enrollment.device_id,
                "class": "gw",
                "ak_key_id": enrollment.ak_key_id,
                "environments": ["edge-prod"],
                "models": ["detector"],
            }
        ],
        "revoked": {"devices": [], "signer_key_ids": [], "workloads": []},
    }
    registry = FakeRegistry()
    registry.promote("prod", "detector", "2.0", digest)
    return device, enrollment, sealed, files, config, registry


def _unseal(tmp_path: Path, sealed: Path, config: dict, registry: FakeRegistry, identity: str):  # type: ignore[no-untyped-def]
    policy_set = load_policy_set([unseal_policy_tree(Path(tempfile.mkdtemp(dir=tmp_path)), config)])
    identities = [parse_identity(identity)]
    log: list[str] = []
    authorizer = UnsealAuthorizer(
        policy_set,
        create_engine("embedded", policy_set),
        identities=identities,
        environment="edge-prod",
        registry=registry,
        log=log.append,
    )
    into = tmp_path / "out" / "model"
    into.parent.mkdir(exist_ok=True)
    try:
        unseal_model(
            sealed,
            into,
            identities=identities,
            trust=load_trust(tmp_path / "signer.pub"),
            allow_disk=True,
            authorize=authorizer,
        )
    finally:
        records = [json.loads(line) for line in log]
    return into, records


def test_tpm_seal_and_unseal_on_the_attested_device(tmp_path: Path, swtpm_factory) -> None:  # type: ignore[no-untyped-def]
    _, enrollment, sealed, files, config, registry = _setup(tmp_path, swtpm_factory)
    into, records = _unseal(tmp_path, sealed, config, registry, f"tpm:{tmp_path / 'gw-a'}")
    for relative, content in files.items():
        assert (into / relative).read_bytes() == content
    [record] = records
    assert record["decision"] == "allow" and record["reasons"] == []
    assert record["attestation"]["verified"] is True
    assert record["attestation"]["nonce_fresh"] is True
    assert record["consumer"] == {"type": "device", "device_id": enrollment.device_id}
    assert record["model"]["digest"] == registry.current("prod", "detector").digest
    assert record["policy_revision"].startswith("sha256:")


def test_tpm_second_device_gets_no_key(tmp_path: Path, swtpm_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, _, sealed, _, config, registry = _setup(tmp_path, swtpm_factory)
    other = swtpm_factory("b")
    # Device A's enrolment files presented on device B: its keys do not load there, so
    # neither the quote nor the unwrap can happen.
    monkeypatch.setenv(TCTI_ENV, other.tcti)
    with pytest.raises(DeniedError, match=r"cannot establish the facts.*does not load in this TPM"):
        _unseal(tmp_path, sealed, config, registry, f"tpm:{tmp_path / 'gw-a'}")
    assert not (tmp_path / "out" / "model").exists()
    # Device B enrolled in its own right is simply not a recipient.
    monkeypatch.delenv(TCTI_ENV)
    enroll_device(other.tcti, tmp_path / "gw-b")
    with pytest.raises(VerificationError, match="none of the given identities is a recipient"):
        _unseal(tmp_path, sealed, config, registry, f"tpm:{tmp_path / 'gw-b'}")
    # And B's TPM cannot open A's wrapped key even if asked directly.
    identity = parse_identity(f"tpm:{tmp_path / 'gw-a'}")
    monkeypatch.setenv(TCTI_ENV, other.tcti)
    identity_on_b = parse_identity(f"tpm:{tmp_path / 'gw-a'}")
    assert identity_on_b.key_id == identity.key_id
    from sealgate.sealing._verify import verify_sealed

    header = verify_sealed(sealed, load_trust(tmp_path / "signer.pub")).header
    with pytest.raises(VerificationError, match="does not load in this TPM"):
        identity_on_b.unwrap(header.recipients[0], header.data_key_context())


def test_tpm_pcr_extend_breaks_golden_value_attest_denied(
    tmp_path: Path,
    swtpm_factory,  # type: ignore[no-untyped-def]
) -> None:
    device, _, sealed, _, config, registry = _setup(tmp_path, swtpm_factory)
    with open_tpm(device.tcti) as tpm:
        tpm.extend_pcr(7, hashlib.sha256(b"unexpected boot component").digest())
    with pytest.raises(DeniedError, match="SG-UNSEAL-007: PCR 7 of device"):
        _unseal(tmp_path, sealed, config, registry, f"tpm:{tmp_path / 'gw-a'}")
    assert not (tmp_path / "out" / "model").exists()
    assert not any(p.name.startswith(".model") for p in (tmp_path / "out").iterdir())


def test_tpm_pcr_bound_device_key_refuses_ecdh_after_extend(
    tmp_path: Path,
    swtpm_factory,  # type: ignore[no-untyped-def]
) -> None:
    device, _, sealed, _, _, _ = _setup(tmp_path, swtpm_factory, pcr_policy=(7,))
    identity = parse_identity(f"tpm:{tmp_path / 'gw-a'}")
    from sealgate.sealing._verify import verify_sealed

    header = verify_sealed(sealed, load_trust(tmp_path / "signer.pub")).header
    assert len(identity.unwrap(header.recipients[0], header.data_key_context())) == 32
    with open_tpm(device.tcti) as tpm:
        tpm.extend_pcr(7, hashlib.sha256(b"changed").digest())
    with pytest.raises(VerificationError, match="refused ECDH"):
        identity.unwrap(header.recipients[0], header.data_key_context())


def test_attest_quote_checks_signature_nonce_and_pcr_digest(
    tmp_path: Path,
    swtpm_factory,  # type: ignore[no-untyped-def]
) -> None:
    device = swtpm_factory("a")
    enrollment = enroll_device(device.tcti, tmp_path / "gw")
    nonce = os.urandom(32)
    with open_tpm(device.tcti) as tpm:
        quote = tpm.quote(enrollment.keys, PCRS, nonce)
    good = verify_quote(quote, enrollment.ak_public_pem, nonce, PCRS)
    assert good.verified and good.nonce_fresh and set(good.pcrs) == {"0", "2", "4", "7"}
    stale = verify_quote(quote, enrollment.ak_public_pem, os.urandom(32), PCRS)
    assert not stale.verified and not stale.nonce_fresh
    forged = bytearray(quote.attest)
    forged[-1] ^= 1
    tampered = verify_quote(
        type(quote)(bytes(forged), quote.signature_r, quote.signature_s, quote.pcr_values),
        enrollment.ak_public_pem,
        nonce,
        PCRS,
    )
    assert not tampered.verified and "signature" in tampered.problems[0]
    lied = dict(quote.pcr_values)
    lied[7] = bytes(32) if lied[7] != bytes(32) else b"\x01" * 32
    lying = verify_quote(
        type(quote)(quote.attest, quote.signature_r, quote.signature_s, lied),
        enrollment.ak_public_pem,
        nonce,
        PCRS,
    )
    assert not lying.verified and "digest differs" in lying.problems[0]
    wrong_selection = verify_quote(quote, enrollment.ak_public_pem, nonce, [0, 7])
    assert not wrong_selection.verified


def test_tpm_enroll_exports_endorsement_and_rereads(tmp_path: Path, swtpm_factory) -> None:  # type: ignore[no-untyped-def]
    device = swtpm_factory("a")
    first = enroll_device(device.tcti, tmp_path / "gw")
    again = enroll_device(device.tcti, tmp_path / "gw")
    assert again.device_id == first.device_id and again.ak_key_id == first.ak_key_id
    record = json.loads((tmp_path / "gw.json").read_text())
    assert record["dps"]["attestation"] == "tpm"
    assert record["dps"]["registration_id"].isalnum()
    assert record["endorsement"]["public"]
    assert (tmp_path / "gw.tpm").stat().st_mode & 0o777 == 0o600


def test_tpm_cli_enroll_seal_and_unseal_asks_the_policy(
    tmp_path: Path, swtpm_factory, sealgate
) -> None:  # type: ignore[no-untyped-def]
    device = swtpm_factory("a")
    enrolled = sealgate(
        "device", "enroll", "--tcti", device.tcti, "--out", "gw", "--json", cwd=tmp_path
    )
    assert enrolled.code == 0, enrolled.stderr
    summary = json.loads(enrolled.stdout)
    assert set(summary["pcrs"]["sha256"]) == {"0", "2", "4", "7"}
    write_model(tmp_path / "model")
    assert sealgate("keys", "generate", "signing", "--out", "signer", cwd=tmp_path).code == 0
    sealed = sealgate(
        "seal", "model", "--name", "detector", "--version", "2.0", "--sign-key", "signer.key",
        "--recipient", "tpm:gw.pub", "--out", "sealed", cwd=tmp_path,
    )  # fmt: skip
    assert sealed.code == 0, sealed.stderr
    base = [
        "unseal",
        "sealed",
        "--identity",
        "tpm:gw",
        "--trust",
        "signer.pub",
        "--into",
        "out",
        "--allow-disk",
    ]
    no_env = sealgate(*base, cwd=tmp_path)
    assert no_env.code == 2 and "--environment" in no_env.stderr
    config = {
        "environments": {"edge-prod": {"stage": "prod"}},
        "attestation": {"pcr_bank": "sha256", "pcrs": PCRS},
        "device_classes": {"gw": {"golden_pcrs": summary["pcrs"]["sha256"]}},
        "devices": [{"id": summary["device_id"], "class": "gw", "ak_key_id": summary["ak_key_id"],
                     "environments": ["edge-prod"], "models": ["detector"]}],
    }  # fmt: skip
    policies = unseal_policy_data(tmp_path, config)
    denied = sealgate(
        *base, "--environment", "edge-prod", "--policies", str(policies), cwd=tmp_path
    )
    assert denied.code == 1
    decision, error = denied.stderr.splitlines()
    assert json.loads(decision)["attestation"]["verified"] is True
    assert json.loads(decision)["decision"] == "deny"
    assert "SG-UNSEAL-008" in error and "Traceback" not in denied.stderr
    assert not (tmp_path / "out").exists()
