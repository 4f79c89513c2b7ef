"""`sealgate audit verify` passes on an untouched trail and names the first bad record after
any single edit, deletion, reordering or truncation (and a pointer moved outside the gate)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sealgate.promotion._audit_verify import verify_audit
from sealgate.promotion._registry import AUDIT_HEAD, AUDIT_LOG, StagePointer
from sealgate.promotion._service import open_gate, promote, push
from sealgate.sealing._signing_keys import load_signing_private_key

from tests.promotion.conftest import MODEL_NAME, RegistryTarget, Workspace, gate_options, make_cli


def build_trail(workspace: Workspace, target: RegistryTarget) -> None:
    """Five records: allow, deny, allow, deny, deny."""
    context = open_gate(gate_options(workspace, target.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    assert not push(context, workspace.sealed("0.9.0"), "bob").allowed
    assert push(context, workspace.sealed("1.1.0"), "alice").allowed
    assert not push(context, workspace.root / "sealed-1.2.0-rogue", "mallory").allowed
    assert not promote(context, MODEL_NAME, "1.1.0", "staging", "alice").allowed


def public_key(workspace: Workspace):  # type: ignore[no-untyped-def]
    return load_signing_private_key(workspace.path("gate.key")).public_key()


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def _join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _edit(lines: list[bytes]) -> bytes:
    lines[2] = lines[2].replace(b'"actor":"unverified:alice"', b'"actor":"unverified:carol"')
    return _join(lines)


def _swap(lines: list[bytes]) -> bytes:
    lines[1], lines[2] = lines[2], lines[1]
    return _join(lines)


TAMPERING: dict[str, tuple[Callable[[list[bytes]], bytes], int, str]] = {
    "edit": (_edit, 2, "signature does not verify"),
    "delete": (lambda lines: _join(lines[:1] + lines[2:]), 1, "sequence number"),
    "reorder": (_swap, 1, "sequence number"),
    "drop-last": (lambda lines: _join(lines[:-1]), 4, "truncated"),
    "cut-mid-record": (lambda lines: _join(lines[:-1]) + lines[-1][:40], 4, "incomplete"),
    "edit-then-resign-chain-break": (
        lambda lines: _join([lines[0], lines[0], *lines[2:]]),
        1,
        "sequence number",
    ),
}


def write_log(target: RegistryTarget, data: bytes) -> None:
    if target.url.startswith("file://"):
        (Path(target.url.removeprefix("file://")) / AUDIT_LOG).write_bytes(data)
        return
    registry = target.open()
    blob = registry._audit.get_blob_client(AUDIT_LOG)  # type: ignore[attr-defined]
    blob.delete_blob()
    blob.create_append_blob()
    if data:
        blob.append_block(data)


def test_audit_verify_passes_untouched_trail(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    build_trail(workspace, registry_target)
    report = verify_audit(registry_target.open(), public_key(workspace))
    assert report.ok, report.problem
    assert (report.records, report.allow, report.deny, report.conflict) == (5, 2, 3, 0)


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_audit_verify_names_first_bad_record(
    workspace: Workspace, file_registry: RegistryTarget, case: str
) -> None:
    build_trail(workspace, file_registry)
    change, bad, message = TAMPERING[case]
    write_log(file_registry, change(_lines(file_registry.open().read_audit())))
    report = verify_audit(file_registry.open(), public_key(workspace))
    assert not report.ok
    assert report.problem.record == bad, report.problem  # type: ignore[union-attr]
    assert message in report.problem.message  # type: ignore[union-attr]


def test_audit_verify_on_azurite_detects_a_rewritten_log(
    workspace: Workspace, azurite, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from tests.promotion.conftest import AZURITE_ACCOUNT

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    target = RegistryTarget(
        f"azblob://{AZURITE_ACCOUNT}/{azurite.new_container()}",
        {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string},
    )
    build_trail(workspace, target)
    write_log(target, _edit(_lines(target.open().read_audit())))
    run = make_cli(workspace, target)("audit", "verify", "--gate-pub", "gate.pub")
    assert run.code == 1
    assert "record 2 signature does not verify" in run.stdout


def test_audit_verify_cli_names_the_record_and_checks_head_and_pointers(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    build_trail(workspace, file_registry)
    cli = make_cli(workspace, file_registry)
    assert cli("audit", "verify", "--gate-pub", "gate.pub").code == 0
    root = Path(file_registry.url.removeprefix("file://"))
    log = root / AUDIT_LOG
    original = log.read_bytes()
    log.write_bytes(_edit(_lines(original)))
    run = cli("audit", "verify", "--gate-pub", "gate.pub")
    assert run.code == 1
    assert "record 2" in run.stdout
    log.write_bytes(original)

    # A head signed by another key, and a pointer moved by hand, are both caught.
    head = (root / AUDIT_HEAD).read_bytes()
    (root / AUDIT_HEAD).write_bytes(head.replace(b'"count":5', b'"count":4'))
    assert "audit head" in verify_audit(file_registry.open(), public_key(workspace)).problem.message  # type: ignore[union-attr]
    (root / AUDIT_HEAD).write_bytes(head)
    registry = file_registry.open()
    pointer, tag = registry.read_pointer("dev", MODEL_NAME)
    moved = StagePointer(MODEL_NAME, "0.9.0", pointer.digest, record=pointer.record)  # type: ignore[union-attr]
    registry.set_pointer("dev", moved, tag)
    report = verify_audit(registry, public_key(workspace))
    assert "not written by the gate" in report.problem.message  # type: ignore[union-attr]
    # A wrong gate key fails on the registry identity it signed, before any record.
    other = load_signing_private_key(workspace.path("bob.key")).public_key()
    problem = verify_audit(registry, other).problem
    assert problem is not None and problem.record == -1
    assert "registry.json is signed by a key that is not trusted" in problem.message
