"""The OMS serialization choice: each one verified by the real model_signing, and refused
when the signed header and model.sig disagree."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from model_signing import hashing as ms_hashing
from model_signing import signing as ms_signing
from model_signing import verifying as ms_verifying
from sealgate.errors import VerificationError
from sealgate.runtime import unseal_model
from sealgate.sealing import (
    SealOptions,
    load_signing_private_key,
    parse_recipient,
    seal_model,
    verify_sealed,
)
from sealgate.sealing import _envelope as envelope
from sealgate.sealing import _oms as oms
from sealgate.sealing._header import HEADER_FILE, PAYLOAD_TYPE, parse_header
from sealgate.sealing._oms import Hashing
from sealgate.sealing._signing_keys import parse_signing_public_key

from tests.sealing.conftest import KeySet, read_tree, run_cli, write_model

SHARD = oms.MIN_SHARD_SIZE
HASHINGS = {
    "sha256": Hashing(),
    "sha256-shards": Hashing(oms.SHA256_SHARDS, SHARD),
    "blake3": Hashing(oms.BLAKE3),
}


def _model(root: Path) -> dict[str, bytes]:
    files = write_model(root)
    big = random.Random(3).randbytes(2 * SHARD + 12345)  # three shards, the last one short
    (root / "weights" / "big.bin").write_bytes(big)
    files["weights/big.bin"] = big
    return files


def _ms_config(name: str) -> ms_hashing.Config:
    config = ms_hashing.Config()
    if name == "sha256-shards":
        return config.use_shard_serialization(shard_size=SHARD)
    if name == "blake3":
        return config.use_file_serialization(hashing_algorithm="blake3")
    return config.use_file_serialization()


def _seal(model: Path, out: Path, keyset: KeySet, hashing: Hashing) -> None:
    seal_model(
        model,
        out,
        name="demo",
        version="1",
        signing_key=load_signing_private_key(keyset.path("signer.key")),
        recipients=[parse_recipient(f"local:{keyset.path('rcpt.pub')}")],
        options=SealOptions(chunk_size=64 * 1024, workers=2, hashing=hashing),
    )


@pytest.mark.parametrize("name", sorted(HASHINGS))
def test_each_hashing_round_trips_and_model_signing_verifies_it(
    name: str, tmp_path: Path, shm_dir: Path, keyset: KeySet, trust, identity
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    files = _model(model)
    _seal(model, tmp_path / "sealed", keyset, HASHINGS[name])

    verified = verify_sealed(tmp_path / "sealed", trust)
    assert verified.header.hashing == HASHINGS[name]
    shards = verified.plaintext_digests["weights/big.bin"]
    assert len(shards) == (3 if name == "sha256-shards" else 1)
    into = shm_dir / "unsealed"
    unseal_model(tmp_path / "sealed", into, identities=[identity], trust=trust)
    assert read_tree(into) == files

    signature = tmp_path / "sealed" / "model.sig"
    if name == "sha256":  # the default: model_signing's own CLI accepts it
        cli = subprocess.run(
            [
                *(sys.executable, "-m", "model_signing", "verify", "key"),
                *("--signature", str(signature)),
                *("--public_key", str(keyset.path("signer.pub")), str(into)),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
    ms_verifying.Config().use_elliptic_key_verifier(
        public_key=keyset.path("signer.pub")
    ).set_hashing_config(_ms_config(name)).verify(into, signature)

    (into / "config.json").chmod(0o600)
    (into / "config.json").write_bytes(b"{}")
    with pytest.raises(ValueError, match="mismatch"):
        ms_verifying.Config().use_elliptic_key_verifier(
            public_key=keyset.path("signer.pub")
        ).set_hashing_config(_ms_config(name)).verify(into, signature)


@pytest.mark.parametrize("name", sorted(HASHINGS))
def test_bundles_model_signing_writes_give_the_digests_sealing_computes(
    name: str, tmp_path: Path, keyset: KeySet, trust
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    _model(model)
    _seal(model, tmp_path / "sealed", keyset, HASHINGS[name])
    ours = verify_sealed(tmp_path / "sealed", trust)

    theirs = tmp_path / "theirs.sig"
    ms_signing.Config().use_elliptic_key_signer(
        private_key=keyset.path("signer.key")
    ).set_hashing_config(_ms_config(name)).sign(model, theirs)
    public_key = parse_signing_public_key(keyset.path("signer.pub").read_bytes(), "signer.pub")
    sizes = {f.path: f.size for f in ours.header.files}
    parsed = oms.signed_digests(theirs.read_bytes(), public_key, HASHINGS[name], sizes)
    assert parsed == ours.plaintext_digests


@pytest.mark.parametrize(
    ("signed_as", "header_says"),
    [
        ("sha256", "blake3"),
        ("blake3", "sha256"),
        ("sha256", "sha256-shards"),
        ("sha256-shards", "sha256"),
    ],
)
def test_a_bundle_of_another_serialization_than_the_header_is_refused(
    signed_as: str, header_says: str, tmp_path: Path, keyset: KeySet
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    _model(model)
    bundle = tmp_path / "model.sig"
    ms_signing.Config().use_elliptic_key_signer(
        private_key=keyset.path("signer.key")
    ).set_hashing_config(_ms_config(signed_as)).sign(model, bundle)
    public_key = parse_signing_public_key(keyset.path("signer.pub").read_bytes(), "signer.pub")
    sizes = {str(p.relative_to(model)): p.stat().st_size for p in model.rglob("*") if p.is_file()}
    with pytest.raises(VerificationError, match=r"model\.sig"):
        oms.signed_digests(bundle.read_bytes(), public_key, HASHINGS[header_says], sizes)


def test_another_shard_size_than_the_header_is_refused(tmp_path: Path, keyset: KeySet) -> None:
    model = tmp_path / "model"
    model.mkdir()
    _model(model)
    bundle = tmp_path / "model.sig"
    ms_signing.Config().use_elliptic_key_signer(
        private_key=keyset.path("signer.key")
    ).set_hashing_config(ms_hashing.Config().use_shard_serialization(shard_size=2 * SHARD)).sign(
        model, bundle
    )
    public_key = parse_signing_public_key(keyset.path("signer.pub").read_bytes(), "signer.pub")
    sizes = {str(p.relative_to(model)): p.stat().st_size for p in model.rglob("*") if p.is_file()}
    with pytest.raises(VerificationError, match="serialization"):
        oms.signed_digests(bundle.read_bytes(), public_key, HASHINGS["sha256-shards"], sizes)


def test_a_header_resigned_to_claim_another_hashing_fails_verification(
    tmp_path: Path, model, keyset: KeySet, trust
) -> None:
    """Even the signer's own key cannot make a sha256 model.sig pass as blake3."""
    _seal(model[0], tmp_path / "sealed", keyset, Hashing())
    opened = envelope.open_envelope((tmp_path / "sealed" / HEADER_FILE).read_bytes(), PAYLOAD_TYPE)
    header = dataclasses.replace(parse_header(opened.payload), hashing=Hashing(oms.BLAKE3))
    header_path = tmp_path / "sealed" / HEADER_FILE
    header_path.chmod(0o644)
    header_path.write_bytes(
        envelope.sign_envelope(
            PAYLOAD_TYPE,
            header.to_payload(),
            load_signing_private_key(keyset.path("signer.key")),
        )
    )
    with pytest.raises(VerificationError, match="not the sealed 'blake3'"):
        verify_sealed(tmp_path / "sealed", trust)


def _resign_without_hashing(sealed: Path, keyset: KeySet) -> None:
    """The header as a seal made before the hashing choice existed writes it."""
    from sealgate.sealing._canonical import canonical_json

    header_path = sealed / HEADER_FILE
    document = json.loads(envelope.open_envelope(header_path.read_bytes(), PAYLOAD_TYPE).payload)
    del document["hashing"]
    header_path.chmod(0o644)
    header_path.write_bytes(
        envelope.sign_envelope(
            PAYLOAD_TYPE,
            canonical_json(document),
            load_signing_private_key(keyset.path("signer.key")),
        )
    )


def test_a_header_from_before_the_choice_reads_as_sha256_per_file(
    tmp_path: Path, model, keyset: KeySet, trust
) -> None:
    _seal(model[0], tmp_path / "sealed", keyset, Hashing())
    _resign_without_hashing(tmp_path / "sealed", keyset)
    assert verify_sealed(tmp_path / "sealed", trust).header.hashing == Hashing()


def test_a_header_without_hashing_cannot_pass_off_another_serialization(
    tmp_path: Path, model, keyset: KeySet, trust
) -> None:
    _seal(model[0], tmp_path / "sealed", keyset, Hashing(oms.BLAKE3))
    _resign_without_hashing(tmp_path / "sealed", keyset)
    with pytest.raises(VerificationError):
        verify_sealed(tmp_path / "sealed", trust)


@pytest.mark.parametrize(
    "hashing",
    [{"method": "md5"}, {"method": "sha256", "shard_size": SHARD}, {"method": "sha256-shards"}],
)
def test_header_hashing_outside_the_choices_is_refused(
    hashing: dict[str, object], tmp_path: Path, model, keyset: KeySet
) -> None:
    _seal(model[0], tmp_path / "sealed", keyset, Hashing())
    opened = envelope.open_envelope((tmp_path / "sealed" / HEADER_FILE).read_bytes(), PAYLOAD_TYPE)
    document = json.loads(opened.payload)
    document["hashing"] = hashing
    payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(VerificationError, match="hashing"):
        parse_header(payload)


def _cli_seal(cwd: Path, out: str, hashing: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "seal", "model", "--name", "demo", "--version", "1",
        "--sign-key", "signer.key", "--recipient", "local:rcpt.pub",
        "--out", out, "--hashing", hashing, *extra,
        cwd=cwd,
    )  # fmt: skip


def test_cli_seal_hashing_option_is_recorded_and_verified(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    write_model(model)
    for kind, prefix in (("signing", "signer"), ("recipient", "rcpt")):
        assert run_cli("keys", "generate", kind, "--out", prefix, cwd=tmp_path).returncode == 0
    sealed = _cli_seal(tmp_path, "sealed", "blake3", "--json")
    assert sealed.returncode == 0, sealed.stderr
    assert json.loads(sealed.stdout)["hashing"] == "blake3"
    opened = envelope.open_envelope((tmp_path / "sealed" / HEADER_FILE).read_bytes(), PAYLOAD_TYPE)
    assert json.loads(opened.payload)["hashing"] == {"method": "blake3"}
    verified = run_cli("verify", "sealed", "--trust", "signer.pub", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    refused = _cli_seal(tmp_path, "sealed2", "md5")
    assert refused.returncode == 2
    assert "md5" in refused.stderr


@pytest.mark.parametrize("name", sorted(HASHINGS))
def test_one_file_hashed_on_its_own_threads_round_trips(
    name: str, tmp_path: Path, shm_dir: Path, keyset: KeySet, trust, identity
) -> None:
    """Fewer files than cores: digests on background threads (BLAKE3 over several)."""
    model = tmp_path / "model"
    model.mkdir()
    content = random.Random(5).randbytes(2 * SHARD + 999)
    (model / "weights.bin").write_bytes(content)
    seal_model(
        model,
        tmp_path / "sealed",
        name="demo",
        version="1",
        signing_key=load_signing_private_key(keyset.path("signer.key")),
        recipients=[parse_recipient(f"local:{keyset.path('rcpt.pub')}")],
        options=SealOptions(chunk_size=100_000, workers=1, hashing=HASHINGS[name]),
    )
    into = shm_dir / "unsealed"
    unseal_model(tmp_path / "sealed", into, identities=[identity], trust=trust, workers=1)
    assert (into / "weights.bin").read_bytes() == content
    ms_verifying.Config().use_elliptic_key_verifier(
        public_key=keyset.path("signer.pub")
    ).set_hashing_config(_ms_config(name)).verify(into, tmp_path / "sealed" / "model.sig")


def test_a_file_list_needing_too_many_digests_is_refused_before_parsing(keyset: KeySet) -> None:
    public_key = parse_signing_public_key(keyset.path("signer.pub").read_bytes(), "signer.pub")
    sizes = {"huge.bin": (oms.MAX_RESOURCES + 1) * SHARD}
    with pytest.raises(VerificationError, match="more than"):
        oms.signed_digests(b"not even read", public_key, HASHINGS["sha256-shards"], sizes)


def test_a_deeply_nested_bundle_is_a_one_line_verification_error(keyset: KeySet) -> None:
    public_key = parse_signing_public_key(keyset.path("signer.pub").read_bytes(), "signer.pub")
    nested = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(VerificationError, match="not an OpenSSF"):
        oms.signed_digests(nested, public_key, Hashing(), {"a": 1})
