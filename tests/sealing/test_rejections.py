"""Rejections: wrong keys, untrusted, revoked or expired signers, renames, hostile paths."""

from __future__ import annotations

import base64
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sealgate.errors import DeniedError, InputError, VerificationError
from sealgate.runtime import UnsealRequest, unseal_model
from sealgate.sealing import load_signing_private_key, load_trust, parse_identity, verify_sealed
from sealgate.sealing._envelope import sign_envelope
from sealgate.sealing._header import PAYLOAD_TYPE

from tests.sealing.conftest import leftovers, read_tree, seal_with_library


def _trust_file(path: Path, keyset, **signer: object) -> Path:
    entry = {"name": "release", "public_key_path": str(keyset.path("signer.pub")), **signer}
    path.write_text(json.dumps({"signers": [entry]}, default=str))
    return path


def test_wrong_recipient_key_releases_nothing(sealed: Path, keyset, trust, shm_dir: Path) -> None:
    destination = shm_dir / "model"
    with pytest.raises(VerificationError, match="none of the given identities"):
        unseal_model(
            sealed,
            destination,
            trust=trust,
            identities=[parse_identity(f"local:{keyset.path('other-rcpt.key')}")],
        )
    assert not destination.exists()
    assert list(shm_dir.iterdir()) == []


def test_each_of_several_recipients_can_unseal(
    model, keyset, trust, tmp_path: Path, shm_dir: Path
) -> None:
    sealed = tmp_path / "sealed"
    seal_with_library(model[0], sealed, keyset, recipients=("rcpt", "other-rcpt"))
    for name in ("rcpt", "other-rcpt"):
        destination = shm_dir / name
        unseal_model(
            sealed,
            destination,
            trust=trust,
            identities=[parse_identity(f"local:{keyset.path(name + '.key')}")],
        )
        assert read_tree(destination) == model[1]


def test_a_wrapped_key_moved_between_recipients_does_not_open(
    model,
    keyset,
    trust,
    tmp_path: Path,
    shm_dir: Path,
) -> None:
    """Even with a valid signature, an identity only opens what was wrapped for it."""
    sealed = tmp_path / "sealed"
    seal_with_library(model[0], sealed, keyset, recipients=("rcpt", "other-rcpt"))
    envelope = json.loads((sealed / "seal.json").read_bytes())
    header = json.loads(base64.b64decode(envelope["payload"]))
    first, second = header["recipients"]
    first["wrapped_key"], second["wrapped_key"] = second["wrapped_key"], first["wrapped_key"]
    _resign(sealed, header, keyset)
    with pytest.raises(VerificationError, match="does not open"):
        unseal_model(
            sealed,
            shm_dir / "m",
            trust=trust,
            identities=[parse_identity(f"local:{keyset.path('rcpt.key')}")],
        )
    assert list(shm_dir.iterdir()) == []


def test_untrusted_signer(sealed: Path, keyset) -> None:
    with pytest.raises(VerificationError, match="not trusted"):
        verify_sealed(sealed, load_trust(keyset.path("other-signer.pub")))


def test_revoked_signer_by_flag_and_by_list(sealed: Path, keyset, tmp_path: Path) -> None:
    flagged = load_trust(_trust_file(tmp_path / "a.yaml", keyset, revoked=True))
    with pytest.raises(VerificationError, match="revoked"):
        verify_sealed(sealed, flagged)
    key_id = load_trust(keyset.path("signer.pub")).signers[0].key_id
    listed = tmp_path / "b.yaml"
    listed.write_text(
        f"signers:\n  - name: release\n    public_key_path: {keyset.path('signer.pub')}\n"
        f"revoked_key_ids: [{key_id}]\n"
    )
    with pytest.raises(VerificationError, match="revoked"):
        verify_sealed(sealed, load_trust(listed))


def test_expired_and_not_yet_valid_signer(sealed: Path, keyset, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    expired = load_trust(
        _trust_file(
            tmp_path / "e.yaml",
            keyset,
            not_before=(now - timedelta(days=30)).isoformat(),
            not_after=(now - timedelta(days=1)).isoformat(),
        )
    )
    with pytest.raises(VerificationError, match="expired"):
        verify_sealed(sealed, expired)
    future = load_trust(
        _trust_file(tmp_path / "f.yaml", keyset, not_before=(now + timedelta(days=1)).isoformat())
    )
    with pytest.raises(VerificationError, match="not valid before"):
        verify_sealed(sealed, future)
    valid = load_trust(
        _trust_file(
            tmp_path / "v.yaml",
            keyset,
            not_before=(now - timedelta(days=1)).isoformat(),
            not_after=(now + timedelta(days=1)).isoformat(),
        )
    )
    assert verify_sealed(sealed, valid).signer.name == "release"


def test_trust_file_errors_are_input_errors(keyset, tmp_path: Path) -> None:
    bad_id = _trust_file(tmp_path / "id.yaml", keyset, key_id="00" * 32)
    with pytest.raises(InputError, match="key_id does not match"):
        load_trust(bad_id)
    naive = _trust_file(tmp_path / "naive.yaml", keyset, not_after="2030-01-01T00:00:00")
    with pytest.raises(InputError, match="UTC offset"):
        load_trust(naive)
    (tmp_path / "broken.yaml").write_text("signers: [\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_trust(tmp_path / "broken.yaml")
    with pytest.raises(InputError, match="cannot read"):
        load_trust(tmp_path / "missing.yaml")


def test_a_copy_under_another_name_still_claims_its_signed_name(
    sealed: Path,
    trust,
    tmp_path: Path,
) -> None:
    copy = tmp_path / "llama-70b-v9"
    shutil.copytree(sealed, copy)
    verified = verify_sealed(copy, trust)
    assert (verified.header.model_name, verified.header.model_version) == ("demo", "1.0")
    with pytest.raises(VerificationError, match="expected 'llama-70b-v9'"):
        verify_sealed(copy, trust, expect_name="llama-70b-v9")
    with pytest.raises(VerificationError, match=r"version .1\.0., expected .9."):
        verify_sealed(copy, trust, expect_name="demo", expect_version="9")


def _resign(sealed: Path, header: dict, keyset) -> None:
    """Re-sign an edited header with the trusted key: only header validation can stop it."""
    from sealgate.sealing._canonical import canonical_json

    signer = load_signing_private_key(keyset.path("signer.key"))
    target = sealed / "seal.json"
    target.chmod(0o644)
    target.write_bytes(sign_envelope(PAYLOAD_TYPE, canonical_json(header), signer))


@pytest.mark.parametrize("hostile", ["../escape.bin", "/etc/evil", "a/../../b", "a//b", "./a"])
def test_hostile_paths_in_a_validly_signed_header_are_refused(
    sealed: Path,
    keyset,
    trust,
    shm_dir: Path,
    identity,
    hostile: str,
) -> None:
    envelope = json.loads((sealed / "seal.json").read_bytes())
    header = json.loads(base64.b64decode(envelope["payload"]))
    header["files"][0]["path"] = hostile
    _resign(sealed, header, keyset)
    with pytest.raises(VerificationError, match="unsafe file path"):
        unseal_model(sealed, shm_dir / "m", identities=[identity], trust=trust)
    assert list(shm_dir.iterdir()) == []
    assert not (shm_dir.parent / "escape.bin").exists()


def test_authorization_seam_sees_verified_facts_before_any_key_is_unwrapped(
    sealed: Path,
    trust,
    identity,
    shm_dir: Path,
) -> None:
    seen: list[UnsealRequest] = []

    def deny(request: UnsealRequest) -> None:
        seen.append(request)
        raise DeniedError(f"policy denies {request.model_name} {request.model_version}")

    with pytest.raises(DeniedError, match=r"policy denies demo 1\.0"):
        unseal_model(sealed, shm_dir / "m", identities=[identity], trust=trust, authorize=deny)
    assert list(shm_dir.iterdir()) == []
    (request,) = seen
    assert request.signer_name == "signer" and request.recipient_type == "local"
    assert request.files == 5

    unseal_model(sealed, shm_dir / "m", identities=[identity], trust=trust, authorize=seen.append)
    assert len(seen) == 2


def test_symlinks_and_special_files_are_refused_at_seal(model, keyset, tmp_path: Path) -> None:
    root, _ = model
    (root / "weights" / "link.bin").symlink_to("/etc/passwd")
    with pytest.raises(InputError, match="symlink"):
        seal_with_library(root, tmp_path / "s1", keyset)
    (root / "weights" / "link.bin").unlink()
    os.mkfifo(root / "pipe")
    with pytest.raises(InputError, match="special file"):
        seal_with_library(root, tmp_path / "s2", keyset)
    (root / "pipe").unlink()
    linked_root = tmp_path / "linked"
    linked_root.symlink_to(root)
    with pytest.raises(InputError, match="symlink"):
        seal_with_library(linked_root, tmp_path / "s3", keyset)
    assert not any(p.name.startswith(("s1", "s2", "s3", ".s")) for p in tmp_path.iterdir())


def test_symlinked_ciphertext_is_refused_at_unseal(
    sealed: Path,
    trust,
    identity,
    shm_dir: Path,
    tmp_path: Path,
) -> None:
    target = sorted((sealed / "payload").iterdir())[0]
    moved = tmp_path / "elsewhere.enc"
    shutil.move(target, moved)
    target.symlink_to(moved)
    with pytest.raises(VerificationError, match="not a regular file"):
        unseal_model(sealed, shm_dir / "m", identities=[identity], trust=trust)
    assert list(shm_dir.iterdir()) == []


def test_git_metadata_is_not_sealed_like_the_openssf_tool(
    model, keyset, trust, tmp_path: Path, shm_dir: Path, identity
) -> None:
    root, files = model
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".gitattributes").write_text("*.bin filter=lfs\n")
    seal_with_library(root, tmp_path / "sealed", keyset)
    unseal_model(tmp_path / "sealed", shm_dir / "m", identities=[identity], trust=trust)
    assert read_tree(shm_dir / "m") == files


def test_destination_must_be_new_or_empty_and_on_tmpfs(
    sealed: Path,
    trust,
    identity,
    shm_dir: Path,
    tmp_path: Path,
) -> None:
    busy = shm_dir / "busy"
    busy.mkdir()
    (busy / "keep").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        unseal_model(sealed, busy, identities=[identity], trust=trust)
    empty = shm_dir / "empty"
    empty.mkdir()
    unseal_model(sealed, empty, identities=[identity], trust=trust)
    assert (empty / "config.json").exists()
    with pytest.raises(InputError, match="not memory-backed"):
        unseal_model(sealed, tmp_path / "disk", identities=[identity], trust=trust)
    assert leftovers(tmp_path / "disk") == []


def test_a_deeply_nested_header_written_to_the_registry_is_a_one_line_refusal(
    sealed: Path, trust, tmp_path: Path
) -> None:
    """Whoever writes registry storage controls seal.json: its depth is bounded before parsing."""
    copy = tmp_path / "copy"
    shutil.copytree(sealed, copy)
    header = copy / "seal.json"
    header.chmod(0o644)
    header.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(VerificationError, match="not a JSON DSSE envelope"):
        verify_sealed(copy, trust)
