"""Signed OPA bundles: what `sealgate policy bundle` writes, `verify-bundle` must accept, and
any change to any file must be caught by name."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from sealgate.policy._bundle import file_hash
from sealgate.policy._embedded import EmbeddedEngine
from sealgate.policy._loader import load_policy_set

from tests.conftest import REPO, Run

Sealgate = Callable[..., Run]


def read_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as archive:
        return {m.name.lstrip("/"): archive.extractfile(m).read() for m in archive}  # type: ignore[union-attr]


def write_members(path: Path, members: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb") as compressed,
        tarfile.open(fileobj=compressed, mode="w") as archive,
    ):
        for name, content in members.items():
            info = tarfile.TarInfo(f"/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    path.write_bytes(buffer.getvalue())


@pytest.fixture(scope="module")
def signed_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("bundle")
    from tests.conftest import run_sealgate

    assert (
        run_sealgate("keys", "generate", "signing", "--out", str(folder / "gate"), cwd=REPO).code
        == 0
    )
    assert (
        run_sealgate("keys", "generate", "signing", "--out", str(folder / "other"), cwd=REPO).code
        == 0
    )
    run = run_sealgate(
        "policy",
        "bundle",
        "--out",
        str(folder / "bundle.tar.gz"),
        "--sign-key",
        str(folder / "gate.key"),
        cwd=REPO,
    )
    assert run.code == 0, run.stderr
    return folder / "bundle.tar.gz", folder / "gate.pub", folder / "other.pub"


def verify(sealgate: Sealgate, bundle: Path, key: Path, *extra: str) -> Run:
    return sealgate("policy", "verify-bundle", str(bundle), "--key", str(key), *extra, cwd=REPO)


def test_bundle_verifies_and_holds_policies_and_data_only(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate
) -> None:
    bundle, key, _ = signed_bundle
    run = verify(sealgate, bundle, key, "--key-id", "sealgate")
    assert run.code == 0, run.stderr
    members = read_members(bundle)
    manifest = json.loads(members[".manifest"])
    assert (
        manifest["roots"] == ["sealgate", "config", "sealgate_batch"]
        and manifest["rego_version"] == 1
    )
    assert manifest["revision"].startswith("sha256:") and manifest["revision"] in run.stdout
    assert "sealgate/gate/waivers/policy.rego" in members
    assert not any(name.endswith("_test.rego") for name in members)
    assert json.loads(members["config/gate/data.json"]) == {"waivers": {"max_days": 90}}
    header = jwt.get_unverified_header(json.loads(members[".signatures.json"])["signatures"][0])
    assert header == {"alg": "ES256", "kid": "sealgate", "typ": "JWT"}


def test_bundle_decides_like_the_policy_tree(signed_bundle: tuple[Path, Path, Path]) -> None:
    members = read_members(signed_bundle[0])
    data: dict = {}
    for name, content in members.items():
        if name.endswith("/data.json"):
            node = data
            for part in name.split("/")[:-2]:
                node = node.setdefault(part, {})
            node[name.split("/")[-2]] = json.loads(content)
    modules = [
        (name, content.decode()) for name, content in members.items() if name.endswith(".rego")
    ]
    from_bundle = EmbeddedEngine(modules, data)
    from_tree = load_policy_set([REPO / "policies"]).engine()
    document = {
        "waivers": [{"rule": "SG-X-1"}],
        "today": "2026-11-22",
        "expiry": [{"valid": False}],
    }
    expected = from_tree.evaluate("sealgate.gate.waivers.deny", document)
    assert expected and from_bundle.evaluate("sealgate.gate.waivers.deny", document) == expected


def test_changed_policy_is_named(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    bundle, key, _ = signed_bundle
    members = read_members(bundle)
    members["sealgate/gate/waivers/policy.rego"] += b"\nallow_everything := true\n"
    tampered = tmp_path / "tampered.tar.gz"
    write_members(tampered, members)
    run = verify(sealgate, tampered, key)
    assert run.code == 1
    assert "sealgate/gate/waivers/policy.rego does not match its signed digest" in run.stderr


def test_added_and_removed_files_are_caught(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    bundle, key, _ = signed_bundle
    members = read_members(bundle)
    extra = tmp_path / "extra.tar.gz"
    write_members(extra, {**members, "backdoor.rego": b"package sealgate.backdoor\n"})
    assert (
        "backdoor.rego is not covered by the bundle signature"
        in verify(sealgate, extra, key).stderr
    )
    missing = tmp_path / "missing.tar.gz"
    write_members(missing, {k: v for k, v in members.items() if k != "config/gate/data.json"})
    run = verify(sealgate, missing, key)
    assert run.code == 1 and "missing from the bundle: config/gate/data.json" in run.stderr


def test_reformatted_data_still_verifies(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    """Structured files are hashed over their parsed JSON, as OPA does."""
    bundle, key, _ = signed_bundle
    members = read_members(bundle)
    members["config/gate/data.json"] = b'{ "waivers" :{"max_days":90}}'
    reformatted = tmp_path / "reformatted.tar.gz"
    write_members(reformatted, members)
    assert verify(sealgate, reformatted, key).code == 0
    members["config/gate/data.json"] = b'{"waivers": {"max_days": 900}}'
    write_members(reformatted, members)
    assert verify(sealgate, reformatted, key).code == 1


def test_wrong_key_and_key_id_are_refused(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate
) -> None:
    bundle, key, other = signed_bundle
    run = verify(sealgate, bundle, other)
    assert run.code == 1 and "signature does not verify" in run.stderr
    run = verify(sealgate, bundle, key, "--key-id", "prod-policies")
    assert run.code == 1 and "expected 'prod-policies'" in run.stderr


def test_unsigned_and_unsigned_alg_none_bundles_are_refused(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    bundle, key, _ = signed_bundle
    members = read_members(bundle)
    unsigned = tmp_path / "unsigned.tar.gz"
    write_members(unsigned, {k: v for k, v in members.items() if k != ".signatures.json"})
    assert "unsigned bundle" in verify(sealgate, unsigned, key).stderr
    claims = jwt.decode(
        json.loads(members[".signatures.json"])["signatures"][0],
        options={"verify_signature": False},
    )
    forged = jwt.encode(claims, key=None, algorithm="none")
    members[".signatures.json"] = json.dumps({"signatures": [forged]}).encode()
    write_members(unsigned, members)
    run = verify(sealgate, unsigned, key)
    assert run.code == 1 and "signature does not verify" in run.stderr


def test_unsafe_archive_entries_are_refused(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    bundle, key, _ = signed_bundle
    hostile = tmp_path / "hostile.tar.gz"
    write_members(hostile, {**read_members(bundle), "../escape.rego": b"package x\n"})
    run = verify(sealgate, hostile, key)
    assert run.code == 1 and "unsafe bundle entry" in run.stderr
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    assert verify(sealgate, junk, key).code == 1


def test_structured_hash_follows_opa() -> None:
    """Objects by sorted key, numbers as written, no whitespace (OPA's bundle hasher)."""
    content = b'{"b": 1.50, "a": ["x", true, null], "\\u00e9": "\\u2028"}'
    canonical = '{"a":["x",true,null],"b":1.50,"\u00e9":"\\u2028"}'.encode()
    assert file_hash("config/x/data.json", content) == hashlib.sha256(canonical).hexdigest()
    assert file_hash("p.rego", content) == hashlib.sha256(content).hexdigest()


def _bundle(sealgate: Sealgate, key: Path, out: Path, *extra: str) -> Path:
    run = sealgate(
        "policy",
        "bundle",
        str(REPO / "policies"),
        "--out",
        str(out),
        "--sign-key",
        str(key),
        *extra,
        cwd=REPO,
    )
    assert run.code == 0, run.stderr
    return out


def test_the_configured_key_id_is_required_without_naming_it(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    """Without --key-id the configured default (`sealgate`) is required, not any kid."""
    _, key, _ = signed_bundle
    prod = _bundle(sealgate, key.with_suffix(".key"), tmp_path / "prod.tar.gz", "--key-id", "prod")
    run = verify(sealgate, prod, key)
    assert run.code == 1 and "signed with key id 'prod', expected 'sealgate'" in run.stderr
    assert verify(sealgate, prod, key, "--key-id", "prod").code == 0


def test_signature_scope_must_match_the_configured_scope(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    bundle, key, _ = signed_bundle
    token = json.loads(read_members(bundle)[".signatures.json"])["signatures"][0]
    assert jwt.decode(token, options={"verify_signature": False})["scope"] == "write"
    read = _bundle(sealgate, key.with_suffix(".key"), tmp_path / "read.tar.gz", "--scope", "read")
    run = verify(sealgate, read, key)
    assert run.code == 1 and "scope 'read' does not match 'write'" in run.stderr
    assert verify(sealgate, read, key, "--scope", "read").code == 0
    bare = _bundle(sealgate, key.with_suffix(".key"), tmp_path / "bare.tar.gz", "--scope", "")
    run = verify(sealgate, bare, key)
    assert run.code == 1 and "scope '' does not match 'write'" in run.stderr
    assert verify(sealgate, bare, key, "--scope", "").code == 0


def test_state_file_refuses_an_older_revision(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    _, key, _ = signed_bundle
    signer = key.with_suffix(".key")
    first = _bundle(sealgate, signer, tmp_path / "r1.tar.gz", "--revision", "r1")
    second = _bundle(sealgate, signer, tmp_path / "r2.tar.gz", "--revision", "r2")
    state = tmp_path / "state" / "accepted.json"
    state.parent.mkdir()
    assert verify(sealgate, first, key, "--state", str(state)).code == 0
    assert verify(sealgate, second, key, "--state", str(state)).code == 0
    assert verify(sealgate, second, key, "--state", str(state)).code == 0  # the same again
    run = verify(sealgate, first, key, "--state", str(state))
    assert run.code == 1 and "r1 is older than the accepted r2" in run.stderr
    assert json.loads(state.read_text())["accepted"] == ["r1", "r2"]
    assert sorted(p.name for p in state.parent.iterdir()) == ["accepted.json"]
    # Without the state file the rollback is not visible: the signature is still valid.
    assert verify(sealgate, first, key).code == 0


def test_unreadable_state_file_is_an_input_error(
    signed_bundle: tuple[Path, Path, Path], sealgate: Sealgate, tmp_path: Path
) -> None:
    bundle, key, _ = signed_bundle
    state = tmp_path / "state.json"
    state.write_text('{"accepted": "r1"}')
    run = verify(sealgate, bundle, key, "--state", str(state))
    assert run.code == 2 and "bundle state must be" in run.stderr
    assert state.read_text() == '{"accepted": "r1"}'
