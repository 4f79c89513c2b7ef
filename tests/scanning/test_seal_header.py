"""The scan in the signed seal header: written by seal, parsed strictly, bound to model.sig."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sealgate.errors import InputError, VerificationError
from sealgate.sealing import (
    SealOptions,
    generate_recipient_key,
    generate_signing_key,
    load_signing_private_key,
    load_trust,
    parse_recipient,
    seal_model,
    verify_sealed,
)
from sealgate.sealing import _envelope as envelope
from sealgate.sealing._header import HEADER_FILE, PAYLOAD_TYPE, parse_header

from tests.scanning import builders as b


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate_signing_key(tmp_path / "signer")
    generate_recipient_key(tmp_path / "rcpt")
    return tmp_path


def _seal(keys: Path, files: dict[str, bytes], **options: object) -> Path:
    model = b.write(keys / "model", files)
    out = keys / "sealed"
    seal_model(
        model,
        out,
        name="ranker",
        version="1.0.0",
        signing_key=load_signing_private_key(keys / "signer.key"),
        recipients=[parse_recipient(f"local:{keys / 'rcpt.pub'}")],
        options=SealOptions(chunk_size=64, workers=1),
        **options,  # type: ignore[arg-type]
    )
    return out


def _payload(sealed: Path) -> dict[str, object]:
    opened = envelope.open_envelope((sealed / HEADER_FILE).read_bytes(), PAYLOAD_TYPE)
    return json.loads(opened.payload)  # type: ignore[no-any-return]


def _resign(keys: Path, sealed: Path, document: dict[str, object]) -> None:
    from sealgate.sealing._canonical import canonical_json

    (sealed / HEADER_FILE).chmod(0o644)
    key = load_signing_private_key(keys / "signer.key")
    (sealed / HEADER_FILE).write_bytes(
        envelope.sign_envelope(PAYLOAD_TYPE, canonical_json(document), key)  # type: ignore[arg-type]
    )


def test_seal_signs_the_scan_of_every_file_with_its_digest(keys: Path) -> None:
    sealed = _seal(
        keys, {"config.json": b"{}", "weights/model.pt": b.torch_checkpoint(b.malicious_pickle())}
    )
    verified = verify_sealed(sealed, load_trust(keys / "signer.pub"))
    scan = verified.header.scan
    assert scan is not None
    assert [(f.path, f.format) for f in scan.files] == [
        ("config.json", "other"),
        ("weights/model.pt", "pytorch"),
    ]
    assert all(
        f.digests == tuple(d.hex() for d in verified.plaintext_digests[f.path]) for f in scan.files
    )
    assert [x.id for x in scan.files[1].findings] == ["pickle-unsafe-global"]
    raw = _payload(sealed)["scan"]
    assert raw["scanner"]["name"] == "picklescan" and raw["rules"] == "sealgate.scan/v2"  # type: ignore[index]


def test_a_header_without_a_scan_still_parses(keys: Path) -> None:
    sealed = _seal(keys, {"model.safetensors": b.benign_safetensors()})
    header = parse_header(_canonical(sealed))
    old = dataclasses.replace(header, scan=None)
    assert parse_header(old.to_payload()).scan is None


def _canonical(sealed: Path) -> bytes:
    return envelope.open_envelope((sealed / HEADER_FILE).read_bytes(), PAYLOAD_TYPE).payload


@pytest.mark.parametrize(
    "tamper",
    [
        lambda scan: scan["files"].pop(),  # covers fewer files than are sealed
        lambda scan: scan["files"][0].update(path="other.bin"),
        lambda scan: scan["files"][0]["findings"].append(
            {"id": "x", "severity": "fatal", "unsafe": True, "message": ""}
        ),
        lambda scan: scan["files"][0].update(extra=1),
        lambda scan: scan.update(scanner="picklescan"),
    ],
    ids=["fewer-files", "other-path", "bad-severity", "unknown-field", "scanner-shape"],
)
def test_a_malformed_scan_is_tampering(keys: Path, tamper) -> None:  # type: ignore[no-untyped-def]
    sealed = _seal(keys, {"a.pkl": b.benign_pickle(), "b.npy": b.benign_npy()})
    document = _payload(sealed)
    tamper(document["scan"])
    _resign(keys, sealed, document)
    with pytest.raises(VerificationError, match="seal header: scan"):
        verify_sealed(sealed, load_trust(keys / "signer.pub"))


def test_a_scan_naming_other_digests_than_model_sig_is_refused(keys: Path) -> None:
    """Signed by the same key, but the scan would speak of bytes that were not sealed."""
    sealed = _seal(keys, {"a.pkl": b.malicious_pickle()})
    document = _payload(sealed)
    document["scan"]["files"][0].update(digests=["0" * 64], findings=[])  # type: ignore[index]
    _resign(keys, sealed, document)
    with pytest.raises(VerificationError, match="scan names other digests"):
        verify_sealed(sealed, load_trust(keys / "signer.pub"))


def test_a_file_changed_after_its_scan_fails_the_seal(keys: Path) -> None:
    target = keys / "model" / "b.pkl"

    def swap(phase: str, done: int, total: int) -> None:
        if done == total and target.read_bytes() != b.malicious_pickle():
            # same size, other bytes, after the scan and after this file was sealed
            target.write_bytes(b.malicious_pickle())
            os.utime(target, ns=(1, 1))

    clean = b.benign_pickle()
    files = {
        "a.pkl": b.benign_pickle(),
        "b.pkl": clean + b"." * (len(b.malicious_pickle()) - len(clean)),
    }
    with pytest.raises(InputError, match="changed after it was scanned"):
        _seal(keys, files, progress=swap)
    assert not (keys / "sealed" / HEADER_FILE).exists()


def test_sealgate_scan_command(keys: Path) -> None:
    model = b.write(
        keys / "m",
        {"config.json": b"{}", "pytorch_model.bin": b.torch_checkpoint(b.malicious_pickle())},
    )
    env = {**os.environ}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sealgate", "scan", *args], capture_output=True,
                              text=True, env=env, timeout=120, check=False)  # fmt: skip

    table = run(str(model))
    assert table.returncode == 1, table.stderr
    assert "pytorch_model.bin  pytorch" in table.stdout and "pickle-unsafe-global" in table.stdout
    as_json = json.loads(run(str(model), "--format", "json").stdout)
    assert as_json["unsafe"] is True and as_json["counts"]["critical"] == 1
    sarif = json.loads(run(str(model), "--format", "sarif").stdout)
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "pickle-unsafe-global" and result["level"] == "error"
    clean = b.write(keys / "clean", {"model.safetensors": b.benign_safetensors()})
    assert run(str(clean)).returncode == 0
    missing = run(str(keys / "nope"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
