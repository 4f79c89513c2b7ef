"""The command line end to end: keys, seal, verify, unseal, OpenSSF verification, exit codes."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from model_signing import verifying

from tests.sealing.conftest import read_tree, run_cli, write_model


def test_keys_generate_writes_private_key_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = run_cli("keys", "generate", "signing", "--out", "signer", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE((tmp_path / "signer.key").stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in (tmp_path / "signer.key").read_bytes()
    assert "PRIVATE" not in first.stdout + first.stderr
    before = (tmp_path / "signer.key").read_bytes()
    again = run_cli("keys", "generate", "recipient", "--out", "signer", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert (tmp_path / "signer.key").read_bytes() == before


def test_round_trip_through_the_cli_and_openssf_verification(tmp_path: Path, shm_dir: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    files = write_model(model)
    for kind, prefix in (("signing", "signer"), ("recipient", "rcpt")):
        made = run_cli("keys", "generate", kind, "--out", prefix, "--json", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["kind"] == kind

    sealed = run_cli(
        "seal",
        "model",
        "--name",
        "demo",
        "--version",
        "2.1",
        "--sign-key",
        "signer.key",
        "--recipient",
        "local:rcpt.pub",
        "--out",
        "sealed",
        "--chunk-size",
        "100",
        "--json",
        cwd=tmp_path,
    )
    assert sealed.returncode == 0, sealed.stderr
    summary = json.loads(sealed.stdout)
    assert summary["files"] == len(files)
    assert summary["plaintext_bytes"] == sum(map(len, files.values()))
    assert {p.name for p in (tmp_path / "sealed").iterdir()} == {
        "seal.json",
        "model.sig",
        "payload",
    }
    for content in files.values():
        if len(content) > 16:
            assert all(content not in p.read_bytes() for p in (tmp_path / "sealed").rglob("*.enc"))

    verified = run_cli(
        "verify",
        "sealed",
        "--trust",
        "signer.pub",
        "--name",
        "demo",
        "--version",
        "2.1",
        cwd=tmp_path,
    )
    assert verified.returncode == 0, verified.stderr
    assert "verified demo 2.1" in verified.stdout

    destination = shm_dir / "model"
    unsealed = run_cli(
        "unseal",
        "sealed",
        "--identity",
        "local:rcpt.key",
        "--trust",
        "signer.pub",
        "--into",
        str(destination),
        "--json",
        cwd=tmp_path,
    )
    assert unsealed.returncode == 0, unsealed.stderr
    assert json.loads(unsealed.stdout)["model_version"] == "2.1"
    assert read_tree(destination) == files
    for path in destination.rglob("*"):
        expected = 0o500 if path.is_dir() else 0o400
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert stat.S_IMODE(destination.stat().st_mode) == 0o500

    # The standard OpenSSF tool, as a user runs it, accepts the unsealed model...
    oms_cli = subprocess.run(
        [
            str(Path(sys.executable).parent / "model_signing"),
            "verify",
            "key",
            "--signature",
            str(tmp_path / "sealed" / "model.sig"),
            "--public_key",
            str(tmp_path / "signer.pub"),
            str(destination),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert oms_cli.returncode == 0, oms_cli.stderr
    assert "Verification succeeded" in oms_cli.stdout
    # ... and so does its Python API.
    verifying.Config().use_elliptic_key_verifier(public_key=tmp_path / "signer.pub").verify(
        destination, tmp_path / "sealed" / "model.sig"
    )


def test_openssf_verification_rejects_a_changed_unsealed_model(
    tmp_path: Path, sealed: Path, keyset, shm_dir: Path, identity, trust
) -> None:
    from sealgate.runtime import unseal_model

    destination = shm_dir / "model"
    unseal_model(sealed, destination, identities=[identity], trust=trust)
    copy = tmp_path / "copy"
    copy.mkdir()
    for relative, content in read_tree(destination).items():
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        (copy / relative).write_bytes(content)
    (copy / "config.json").write_bytes(b'{"architecture": "evil"}\n')
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "model_signing"),
            "verify",
            "key",
            "--signature",
            str(sealed / "model.sig"),
            "--public_key",
            str(keyset.path("signer.pub")),
            str(copy),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "config.json" in result.stderr


def test_exit_codes_and_one_line_errors(tmp_path: Path, sealed: Path, keyset) -> None:
    wrong = run_cli(
        "unseal",
        str(sealed),
        "--identity",
        f"local:{keyset.path('other-rcpt.key')}",
        "--trust",
        str(keyset.path("signer.pub")),
        "--into",
        "/dev/shm/sealgate-never-made",
        cwd=tmp_path,
    )
    assert wrong.returncode == 1
    assert wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr
    assert "none of the given identities" in wrong.stderr
    assert not Path("/dev/shm/sealgate-never-made").exists()

    on_disk = run_cli(
        "unseal",
        str(sealed),
        "--identity",
        f"local:{keyset.path('rcpt.key')}",
        "--trust",
        str(keyset.path("signer.pub")),
        "--into",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert on_disk.returncode == 2
    assert "not memory-backed" in on_disk.stderr
    assert not (tmp_path / "out").exists()

    untrusted = run_cli(
        "verify", str(sealed), "--trust", str(keyset.path("other-signer.pub")), cwd=tmp_path
    )
    assert untrusted.returncode == 1
    assert "not trusted" in untrusted.stderr

    bad_spec = run_cli("verify", str(sealed), "--trust", str(keyset.path("rcpt.pub")), cwd=tmp_path)
    assert bad_spec.returncode == 2

    unknown_type = run_cli(
        "seal",
        str(tmp_path),
        "--name",
        "x",
        "--version",
        "1",
        "--sign-key",
        str(keyset.path("signer.key")),
        "--recipient",
        "pkcs11:slot=0;object=model-kek",
        "--out",
        str(tmp_path / "never"),
        cwd=tmp_path,
    )
    assert unknown_type.returncode == 2
    assert "unknown type 'pkcs11'" in unknown_type.stderr


def test_allow_disk_and_exec_replace_the_process(tmp_path: Path, sealed: Path, keyset) -> None:
    destination = tmp_path / "on-disk"
    result = run_cli(
        "unseal",
        str(sealed),
        "--identity",
        f"local:{keyset.path('rcpt.key')}",
        "--trust",
        str(keyset.path("signer.pub")),
        "--into",
        str(destination),
        "--allow-disk",
        "--exec",
        "cat",
        str(destination / "config.json"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"architecture": "demo"}\n'
    assert "unsealed demo 1.0" in result.stderr
