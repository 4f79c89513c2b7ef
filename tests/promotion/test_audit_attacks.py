"""The audit trail cannot be cut or torn: each attack of the review replayed.

Truncating the log and restoring an older signed head (caught by the witness, and the gate
refuses to append), dropping records and appending on (refused), a torn record from a short
write or a full disk (reported with its byte offset, repaired, appends work again), a
pointer move that fails after its allow record (an aborted record), several writers with
their own keys."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.promotion import AuditDamagedError, open_registry
from sealgate.promotion import _fs_registry as fs_registry
from sealgate.promotion._audit import Decision, append_record, record_hash
from sealgate.promotion._audit_repair import repair_audit
from sealgate.promotion._audit_verify import verify_audit
from sealgate.promotion._registry import AUDIT_HEAD, AUDIT_LOG, Registry
from sealgate.promotion._service import open_gate, push
from sealgate.sealing._signing_keys import load_signing_private_key

from tests.promotion.conftest import (
    AZURITE_ACCOUNT,
    MODEL_NAME,
    RegistryTarget,
    Workspace,
    gate_options,
    make_cli,
)
from tests.promotion.test_pointer_attacks import read_raw


def _gate_pub(workspace: Workspace):  # type: ignore[no-untyped-def]
    return load_signing_private_key(workspace.path("gate.key")).public_key()


def _replace_log(registry: Registry, data: bytes) -> None:
    if hasattr(registry, "root"):
        (registry.root / AUDIT_LOG).write_bytes(data)
        return
    blob = registry._audit.get_blob_client(AUDIT_LOG)  # type: ignore[attr-defined]
    blob.delete_blob()
    blob.create_append_blob()
    if data:
        blob.append_block(data)


def _write_head(registry: Registry, data: bytes) -> None:
    if hasattr(registry, "root"):
        (registry.root / AUDIT_HEAD).write_bytes(data)
        return
    registry._audit.upload_blob(AUDIT_HEAD, data, overwrite=True)  # type: ignore[attr-defined]


@pytest.fixture(params=["file", "azblob"])
def witnessed(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[RegistryTarget, str]:
    """A registry and its head witness (a folder; on Blob a separate container)."""
    if request.param == "file":
        return RegistryTarget(f"file://{tmp_path / 'registry'}", {}), str(tmp_path / "witness")
    emulator = request.getfixturevalue("azurite")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", emulator.connection_string)
    target = RegistryTarget(
        f"azblob://{AZURITE_ACCOUNT}/{emulator.new_container()}",
        {"AZURE_STORAGE_CONNECTION_STRING": emulator.connection_string},
    )
    return target, f"azblob://{AZURITE_ACCOUNT}/{emulator.new_container()}"


def test_truncated_log_with_restored_old_head_fails_verify_and_refuses_appends(
    workspace: Workspace, witnessed: tuple[RegistryTarget, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target, witness = witnessed
    monkeypatch.setenv("SEALGATE_AUDIT_WITNESS", witness)
    context = open_gate(gate_options(workspace, target.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    assert not push(context, workspace.root / "sealed-1.2.0-rogue", "mallory").allowed
    registry = context.registry
    old_log, old_head = registry.read_audit(), registry.read_audit_head()
    assert old_head is not None
    # Records the attacker wants gone: a deny and a promotion.
    assert not push(context, workspace.sealed("0.9.0"), "mallory").allowed
    assert push(context, workspace.sealed("1.1.0"), "alice").allowed
    assert verify_audit(registry, _gate_pub(workspace)).ok

    _replace_log(registry, old_log)  # the attack: cut the log, restore the older head
    _write_head(registry, old_head)
    monkeypatch.delenv("SEALGATE_AUDIT_WITNESS")
    blind = open_registry(target.url)  # without the witness the cut is invisible ...
    assert verify_audit(blind, _gate_pub(workspace), check_pointers=False).ok
    seen = open_registry(target.url, witness=witness)  # ... with it, it is not
    report = verify_audit(seen, _gate_pub(workspace))
    assert not report.ok
    assert report.problem.record == 2  # type: ignore[union-attr]
    assert "witnessed audit head counts 4 records, the log holds 2" in report.problem.message  # type: ignore[union-attr]
    # The gate refuses to append a second record with the same sequence number.
    monkeypatch.setenv("SEALGATE_AUDIT_WITNESS", witness)
    with pytest.raises(AuditDamagedError, match="witnessed head counts 4 records"):
        push(open_gate(gate_options(workspace, target.url)), workspace.sealed("1.1.0"), "a")
    assert registry.read_audit() == old_log
    run = make_cli(workspace, target)(
        "audit", "verify", "--gate-pub", "gate.pub", "--witness", witness
    )
    assert run.code == 1 and "witnessed audit head" in run.stdout


def test_records_dropped_from_the_end_refuse_the_next_append(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    context = open_gate(gate_options(workspace, registry_target.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    assert not push(context, workspace.sealed("0.9.0"), "mallory").allowed
    assert not push(context, workspace.root / "sealed-1.2.0-rogue", "mallory").allowed
    registry = context.registry
    lines = registry.read_audit().splitlines(keepends=True)
    _replace_log(registry, b"".join(lines[:1]))  # drop the two denials, keep the head
    with pytest.raises(AuditDamagedError, match="signed head counts 3 records, the log holds 1"):
        push(context, workspace.sealed("1.1.0"), "alice")
    assert registry.read_audit() == lines[0]  # nothing appended over the gap
    cli = make_cli(workspace, registry_target)
    run = cli("push", "sealed-1.1.0", "--trust", "release.pub")
    assert run.code == 1
    assert "audit log damaged" in run.stderr and "sealgate audit verify" in run.stderr
    assert "Traceback" not in run.stderr


def _torn(workspace: Workspace, target: RegistryTarget, tail: bytes) -> tuple[Registry, int]:
    context = open_gate(gate_options(workspace, target.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    assert not push(context, workspace.sealed("0.9.0"), "mallory").allowed
    log = Path(target.url.removeprefix("file://")) / AUDIT_LOG
    size = log.stat().st_size
    with log.open("ab") as handle:
        handle.write(tail)
    return context.registry, size


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (b'{"seq":2,"prev":"sha256:00', "no newline"),  # a short write
        (b"\0" * 300 + b"\n", "not a JSON record"),  # a page of zeros from a full disk
    ],
)
def test_a_torn_record_is_detected_with_its_offset_and_repaired(
    workspace: Workspace, file_registry: RegistryTarget, tail: bytes, reason: str
) -> None:
    registry, offset = _torn(workspace, file_registry, tail)
    report = verify_audit(registry, _gate_pub(workspace))
    assert not report.ok and report.torn is not None
    assert report.problem.record == 2  # type: ignore[union-attr]
    assert f"record 2 is torn at byte offset {offset}" in report.problem.message  # type: ignore[union-attr]
    assert reason in report.problem.message  # type: ignore[union-attr]
    context = open_gate(gate_options(workspace, file_registry.url))
    with pytest.raises(AuditDamagedError, match=f"torn at byte offset {offset}"):
        push(context, workspace.sealed("1.1.0"), "alice")

    cli = make_cli(workspace, file_registry)
    dry = cli("audit", "repair")
    assert dry.code == 0, dry.stderr
    assert f"torn at byte offset {offset}" in dry.stdout and "dry run" in dry.stdout
    assert len(registry.read_audit()) == offset + len(tail)  # a dry run changes nothing
    fixed = cli("audit", "repair", "--yes")
    assert fixed.code == 0 and f"cut the log to {offset} bytes" in fixed.stdout
    assert len(registry.read_audit()) == offset
    assert cli("audit", "verify", "--gate-pub", "gate.pub").code == 0
    assert push(context, workspace.sealed("1.1.0"), "alice").allowed  # appends work again
    assert verify_audit(registry, _gate_pub(workspace)).ok


def test_repair_never_cuts_a_complete_record(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    registry, _ = _torn(workspace, file_registry, b"")
    log = registry.read_audit()
    lines = log.splitlines(keepends=True)
    edited = lines[-1].replace(b'"decision":"deny"', b'"decision":"allow"')
    assert edited != lines[-1]
    _replace_log(registry, b"".join(lines[:-1]) + edited)
    repair = repair_audit(registry, apply=True)
    assert repair.torn is None and not repair.cut
    assert registry.read_audit().endswith(edited)
    assert (
        "signature does not verify" in verify_audit(registry, _gate_pub(workspace)).problem.message
    )  # type: ignore[union-attr]


def test_a_short_write_leaves_the_record_absent(
    workspace: Workspace, file_registry: RegistryTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = open_gate(gate_options(workspace, file_registry.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    before = context.registry.read_audit()
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:  # the disk fills up mid-record
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(fs_registry.os, "write", short_write)
    with pytest.raises(InputError, match=r"could not be written .*nothing was recorded"):
        push(context, workspace.sealed("0.9.0"), "mallory")
    monkeypatch.setattr(fs_registry.os, "write", real_write)
    assert context.registry.read_audit() == before  # complete or absent
    assert verify_audit(context.registry, _gate_pub(workspace)).ok


def test_a_failed_pointer_move_after_the_allow_is_marked_aborted(
    workspace: Workspace, registry_target: RegistryTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = open_gate(gate_options(workspace, registry_target.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    registry = context.registry

    def denied(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(type(registry), "set_pointer", denied)
    with pytest.raises(InputError, match=r"Permission denied; the allow record .* aborted"):
        push(context, workspace.sealed("1.1.0"), "alice")
    monkeypatch.undo()
    records = [json.loads(line) for line in registry.read_audit().splitlines()]
    allow, aborted = records[-2:]
    assert allow["decision"] == "allow" and allow["request"]["version"] == "1.1.0"
    assert aborted["decision"] == "aborted" and aborted["action"] == "push.aborted"
    assert aborted["refers_to"] == record_hash(registry.read_audit().splitlines()[-2])
    assert registry.current("dev", MODEL_NAME).version == "1.0.0"  # type: ignore[union-attr]
    report = verify_audit(registry, _gate_pub(workspace))
    assert report.ok, report.problem
    assert (report.allow, report.aborted) == (2, 1)


def test_an_allow_whose_move_never_happened_unmarked_fails_verify(
    workspace: Workspace, file_registry: RegistryTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealgate.promotion import _gate

    context = open_gate(gate_options(workspace, file_registry.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    monkeypatch.setattr(_gate, "_commit", lambda *args: None)  # killed before the move
    assert push(context, workspace.sealed("1.1.0"), "alice").allowed
    report = verify_audit(context.registry, _gate_pub(workspace))
    assert not report.ok and report.problem.record == 1  # type: ignore[union-attr]
    assert "is not the latest allow for it: record 1 (1.1.0)" in report.problem.message  # type: ignore[union-attr]


def test_several_writers_with_their_own_keys_share_one_verified_trail(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    gate_key = load_signing_private_key(workspace.path("gate.key"))
    service_key = load_signing_private_key(workspace.path("carol.key"))  # a key release replica
    context = open_gate(gate_options(workspace, registry_target.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    release = Decision("keyserver:https://keys.test", "release", "allow",
                       {"name": MODEL_NAME, "environment": "dev"}, "sha256:x", "sha256:y", ())  # fmt: skip
    append_record(
        registry_target.open(), release, service_key, trusted_keys=[gate_key.public_key()]
    )
    assert push(context, workspace.sealed("1.1.0"), "alice").allowed
    append_record(
        registry_target.open(), release, service_key, trusted_keys=[gate_key.public_key()]
    )
    registry = registry_target.open()
    report = verify_audit(registry, [gate_key.public_key(), service_key.public_key()],
                          gate_keys=[gate_key.public_key()])  # fmt: skip
    assert report.ok, report.problem
    assert report.records == 4 and report.allow == 4
    # The service's key signs records only: not trusted, its records fail; it cannot sign pointers.
    only_gate = verify_audit(registry, gate_key.public_key())
    assert only_gate.problem is not None and only_gate.problem.record == 1
    # A writer that lists the trusted keys refuses a head signed by an unknown key.
    head = json.loads(registry.read_audit_head() or b"{}")
    rogue = load_signing_private_key(workspace.path("mallory.key"))
    from sealgate.promotion._audit import HEAD_TYPE
    from sealgate.promotion._signed import sign_document

    body = {k: v for k, v in head.items() if k not in ("gate_key_id", "sig")}
    _write_head(registry, sign_document(body, HEAD_TYPE, rogue))
    with pytest.raises(AuditDamagedError, match="not trusted"):
        append_record(registry, release, service_key, trusted_keys=[gate_key.public_key()])
    assert read_raw(registry, "registry.json")  # made once by the gate


def test_a_failed_witness_write_still_commits_the_allow_and_says_so(
    workspace: Workspace,
    file_registry: RegistryTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sealgate.promotion._audit import WitnessError
    from sealgate.promotion._witness import FileWitness

    monkeypatch.setenv("SEALGATE_AUDIT_WITNESS", str(tmp_path / "witness"))
    context = open_gate(gate_options(workspace, file_registry.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed

    def unwritable(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(FileWitness, "record", unwritable)
    with pytest.raises(WitnessError, match="was appended, but its head could not be written"):
        push(context, workspace.sealed("1.1.0"), "alice")
    monkeypatch.undo()
    registry = open_registry(file_registry.url, witness=str(tmp_path / "witness"))
    assert registry.current("dev", MODEL_NAME).version == "1.1.0"  # type: ignore[union-attr]
    report = verify_audit(registry, _gate_pub(workspace))
    assert report.ok, report.problem  # the allow took effect: no dangling record
