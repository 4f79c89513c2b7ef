"""`sealgate trust add | revoke | show`: files the commands write load with the trust loader
and decide verification as the loader says; refusals leave the file as it was."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sealgate.errors import VerificationError
from sealgate.sealing import load_trust, verify_sealed

from tests.sealing.conftest import run_cli, write_model


def _ok(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    run = run_cli(*args, cwd=cwd)
    assert run.returncode == 0, f"sealgate {' '.join(args)}: {run.stdout}{run.stderr}"
    return run


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """Signing keys for release, ci and bob, and a model sealed by release."""
    for name in ("release", "ci", "bob"):
        _ok("keys", "generate", "signing", "--out", name, cwd=tmp_path)
    _ok("keys", "generate", "recipient", "--out", "rcpt", cwd=tmp_path)
    (tmp_path / "model").mkdir()
    write_model(tmp_path / "model")
    _ok(
        "seal", "model", "--name", "demo", "--version", "1.0", "--sign-key", "release.key",
        "--recipient", "local:rcpt.pub", "--out", "sealed", cwd=tmp_path,
    )  # fmt: skip
    return tmp_path


def test_a_trust_file_written_by_the_commands_verifies_a_sealed_model(release: Path) -> None:
    added = _ok(
        "trust", "add", "--file", "trust.yaml", "--name", "release-pipeline",
        "--key", "release.pub", "--json", cwd=release,
    )  # fmt: skip
    summary = json.loads(added.stdout)
    assert summary["created"] is True and summary["name"] == "release-pipeline"
    _ok("trust", "add", "--file", "trust.yaml", "--name", "ci", "--key", "ci.pub", cwd=release)

    policy = load_trust(release / "trust.yaml")
    assert [s.name for s in policy.signers] == ["release-pipeline", "ci"]
    assert policy.signers[0].key_id == summary["key_id"]
    # Self-contained: the file embeds the keys, so it holds wherever the .pub files go.
    (release / "release.pub").rename(release / "moved.pub")
    verified = verify_sealed(release / "sealed", load_trust(release / "trust.yaml"))
    assert verified.signer.name == "release-pipeline"
    cli = _ok("verify", "sealed", "--trust", "trust.yaml", cwd=release)
    assert "signed by 'release-pipeline'" in cli.stdout


def test_a_revoked_signer_no_longer_verifies_and_cannot_be_listed_again(release: Path) -> None:
    _ok("trust", "add", "--file", "trust.yaml", "--name", "release", "--key", "release.pub",
        cwd=release)  # fmt: skip
    revoked = _ok("trust", "revoke", "--file", "trust.yaml", "--name", "release", cwd=release)
    assert "revoked release" in revoked.stdout
    policy = load_trust(release / "trust.yaml")
    assert policy.signers[0].revoked and policy.signers[0].key_id in policy.revoked_key_ids
    with pytest.raises(VerificationError, match="revoked"):
        verify_sealed(release / "sealed", policy)
    denied = run_cli("verify", "sealed", "--trust", "trust.yaml", cwd=release)
    assert denied.returncode == 1 and "revoked" in denied.stderr
    again = run_cli("trust", "revoke", "--file", "trust.yaml", "--name", "release", cwd=release)
    assert again.returncode == 0 and "already revoked; nothing changed" in again.stdout

    before = (release / "trust.yaml").read_bytes()
    readded = run_cli(
        "trust", "add", "--file", "trust.yaml", "--name", "other", "--key", "release.pub",
        cwd=release,
    )  # fmt: skip
    assert readded.returncode == 2 and "is already listed" in readded.stderr
    assert (release / "trust.yaml").read_bytes() == before
    # The name may take a new key once its old one is revoked (key rotation).
    _ok("trust", "add", "--file", "trust.yaml", "--name", "release", "--key", "ci.pub",
        cwd=release)  # fmt: skip
    states = {
        s["key_id"]: s["state"]
        for s in json.loads(
            _ok("trust", "show", "--file", "trust.yaml", "--json", cwd=release).stdout
        )["signers"]
    }
    assert sorted(states.values()) == ["revoked", "trusted"]


def test_duplicates_and_bad_keys_are_refused_in_one_line(release: Path) -> None:
    _ok("trust", "add", "--file", "t.yaml", "--name", "release", "--key", "release.pub",
        cwd=release)  # fmt: skip
    before = (release / "t.yaml").read_bytes()
    cases = [
        (("--name", "release", "--key", "ci.pub"), "'release' is already listed with key"),
        (("--name", "copy", "--key", "release.pub"), "is already listed, as 'release'"),
        (("--name", "ci", "--key", "ci.key"), "is a private key; pass the public key"),
        (("--name", "rcpt", "--key", "rcpt.pub"), "not an ECDSA P-256 key"),
        (("--name", " padded", "--key", "ci.pub"), "without control characters"),
        (("--name", "ci", "--key", "ci.pub", "--not-after", "2027-01-01"), "UTC offset"),
    ]
    for args, message in cases:
        run = run_cli("trust", "add", "--file", "t.yaml", *args, cwd=release)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert message in run.stderr and run.stderr.count("\n") == 1, (args, run.stderr)
        assert (release / "t.yaml").read_bytes() == before
    missing = run_cli("trust", "revoke", "--file", "t.yaml", "--name", "nobody", cwd=release)
    assert missing.returncode == 2 and "no signer named 'nobody' (listed: release)" in (
        missing.stderr
    )


def test_a_hand_written_file_is_rewritten_canonically_and_keeps_its_entries(
    release: Path,
) -> None:
    (release / "keys").mkdir()
    (release / "release.pub").rename(release / "keys" / "release.pub")
    (release / "trust.yaml").write_text(
        "# who may sign models\n"
        "signers:\n"
        "  - name: release   # the pipeline\n"
        "    public_key_path: keys/release.pub\n"
        "    not_before: 2020-01-01T00:00:00Z\n"
    )
    added = _ok("trust", "add", "--file", "trust.yaml", "--name", "bob", "--key", "bob.pub",
                cwd=release)  # fmt: skip
    assert "comments it had are not kept" in added.stderr
    text = (release / "trust.yaml").read_text()
    assert "# who may sign models" not in text and "public_key_path: keys/release.pub" in text
    policy = load_trust(release / "trust.yaml")
    assert [s.name for s in policy.signers] == ["release", "bob"]
    assert policy.signers[0].not_before is not None and policy.signers[0].not_before.year == 2020
    assert verify_sealed(release / "sealed", policy).signer.name == "release"
    # A rewrite of its own output has nothing to warn about.
    again = _ok("trust", "revoke", "--file", "trust.yaml", "--name", "bob", cwd=release)
    assert again.stderr == ""


def test_show_lists_states_and_the_window(release: Path) -> None:
    _ok("trust", "add", "--file", "trust.yaml", "--name", "old", "--key", "release.pub",
        "--not-after", "2001-01-01T00:00:00Z", cwd=release)  # fmt: skip
    _ok("trust", "add", "--file", "trust.yaml", "--name", "future", "--key", "bob.pub",
        "--not-before", "2999-01-01T00:00:00+02:00", cwd=release)  # fmt: skip
    shown = _ok("trust", "show", "--file", "trust.yaml", cwd=release).stdout.splitlines()
    assert shown[0].split() == ["NAME", "STATE", "NOT", "BEFORE", "NOT", "AFTER", "KEY", "ID"]
    assert shown[1].split()[:2] == ["old", "expired"] and "2001-01-01T00:00:00Z" in shown[1]
    assert shown[2].startswith("future") and "not yet valid" in shown[2]
    assert "2998-12-31T22:00:00Z" in shown[2]  # stored in UTC
    with pytest.raises(VerificationError, match="'old' expired at 2001-01-01"):
        verify_sealed(release / "sealed", load_trust(release / "trust.yaml"))


def test_the_help_says_the_approvers_file_is_written_the_same_way(tmp_path: Path) -> None:
    shown = _ok("trust", "--help", cwd=tmp_path).stdout
    assert "--file approvers.yaml" in " ".join(shown.split())
    assert "approvers" in _ok("trust", "add", "--help", cwd=tmp_path).stdout
