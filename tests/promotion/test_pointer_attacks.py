"""Signed stage pointers: each forgery of the review replayed against both backends.

An old pointer copied back, a hand-written pointer, a pointer signed by another key or for
another place, a pointer (or a log) from another registry: refused by
``read_verified_pointer`` / the unseal facts, reported by ``audit verify``, and the gate
decides on none of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sealgate.errors import VerificationError
from sealgate.promotion import (
    VerifiedPointers,
    open_registry,
    read_verified_pointer,
    sealed_model_digest,
)
from sealgate.promotion._audit_verify import verify_audit
from sealgate.promotion._pointers import sign_pointer
from sealgate.promotion._registry import AUDIT_HEAD, AUDIT_LOG, Registry, StagePointer, pointer_key
from sealgate.promotion._service import open_gate, push
from sealgate.runtime._authorization import registry_facts
from sealgate.sealing._signing_keys import load_signing_private_key

from tests.promotion.conftest import MODEL_NAME, RegistryTarget, Workspace, gate_options, make_cli


def _gate_pub(workspace: Workspace):  # type: ignore[no-untyped-def]
    return load_signing_private_key(workspace.path("gate.key")).public_key()


def read_raw(registry: Registry, key: str) -> bytes:
    if hasattr(registry, "root"):
        return (registry.root / key).read_bytes()
    return bytes(registry._container.download_blob(key).readall())  # type: ignore[attr-defined]


def write_raw(registry: Registry, key: str, data: bytes) -> None:
    if hasattr(registry, "root"):
        path = registry.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    registry._container.upload_blob(key, data, overwrite=True)  # type: ignore[attr-defined]


def _two_pushes(workspace: Workspace, target: RegistryTarget) -> bytes:
    """Push 1.0.0 then 1.1.0 into dev; return the 1.0.0 pointer's stored bytes."""
    context = open_gate(gate_options(workspace, target.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    old = read_raw(target.open(), pointer_key("dev", MODEL_NAME))
    assert push(context, workspace.sealed("1.1.0"), "alice").allowed
    return old


def test_an_old_pointer_copied_back_is_refused_and_reported(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    old = _two_pushes(workspace, registry_target)
    registry = registry_target.open()
    current = read_verified_pointer(registry, "dev", MODEL_NAME, [_gate_pub(workspace)])
    assert current is not None and current.version == "1.1.0"
    assert verify_audit(registry, _gate_pub(workspace)).ok

    write_raw(registry, pointer_key("dev", MODEL_NAME), old)  # the attack
    rolled_back = read_verified_pointer(registry, "dev", MODEL_NAME, [_gate_pub(workspace)])
    # Validly signed, but its counter is below the one seen before: a high-water mark catches it.
    assert rolled_back is not None and rolled_back.version == "1.0.0"
    assert rolled_back.counter < current.counter
    # The unseal facts (verified pointers, checked against the log) confirm no stage.
    view = VerifiedPointers(registry, [_gate_pub(workspace)])
    with pytest.raises(VerificationError, match="not the latest allow"):
        view.current("dev", MODEL_NAME)
    old_digest = sealed_model_digest(workspace.sealed("1.0.0"))
    assert registry_facts(view, ["dev"], MODEL_NAME, old_digest) == {
        "checked": True,
        "stages": [],
    }
    report = verify_audit(registry, _gate_pub(workspace))
    assert not report.ok
    assert "is not the latest allow" in report.problem.message  # type: ignore[union-attr]
    assert "(1.1.0)" in report.problem.message  # type: ignore[union-attr]


def test_hand_written_and_misplaced_pointers_are_refused(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    _two_pushes(workspace, registry_target)
    registry = registry_target.open()
    keys = [_gate_pub(workspace)]
    genuine = registry.current("dev", MODEL_NAME)
    assert genuine is not None
    digest = sealed_model_digest(workspace.sealed("1.0.0"))
    # A hand-written pointer for a model only ever in dev, put into prod: unsigned.
    forged = StagePointer(MODEL_NAME, "1.0.0", digest, record=genuine.record, stage="prod")
    write_raw(registry, pointer_key("prod", MODEL_NAME), forged.to_json())
    with pytest.raises(VerificationError, match="has no signature"):
        read_verified_pointer(registry, "prod", MODEL_NAME, keys)
    assert registry_facts(VerifiedPointers(registry, keys), ["prod"], MODEL_NAME, digest) == {
        "checked": True,
        "stages": [],
    }
    assert "not written by the gate" in verify_audit(registry, keys).problem.message  # type: ignore[union-attr]
    # Signed, but by a key that is not the gate's.
    rogue = load_signing_private_key(workspace.path("mallory.key"))
    write_raw(registry, pointer_key("prod", MODEL_NAME), sign_pointer(forged, rogue).to_json())
    with pytest.raises(VerificationError, match="not trusted"):
        read_verified_pointer(registry, "prod", MODEL_NAME, keys)
    # The genuine dev pointer copied to prod: signed for another place.
    write_raw(registry, pointer_key("prod", MODEL_NAME), genuine.to_json())
    with pytest.raises(VerificationError, match="copied from another place"):
        read_verified_pointer(registry, "prod", MODEL_NAME, keys)
    # The gate refuses to decide on a forged target pointer.
    write_raw(registry, pointer_key("dev", MODEL_NAME), forged.to_json())
    with pytest.raises(VerificationError, match="decides on no forged pointer"):
        push(
            open_gate(gate_options(workspace, registry_target.url)), workspace.sealed("1.0.0"), "a"
        )


def test_pointers_and_records_of_another_registry_are_refused(
    workspace: Workspace, tmp_path: Path
) -> None:
    first = RegistryTarget(f"file://{tmp_path / 'first'}", {})
    second = RegistryTarget(f"file://{tmp_path / 'second'}", {})
    _two_pushes(workspace, first)
    _two_pushes(workspace, second)
    keys = [_gate_pub(workspace)]
    one, two = first.open(), second.open()
    assert (
        json.loads(read_raw(one, "registry.json"))["registry_id"]
        != json.loads(read_raw(two, "registry.json"))["registry_id"]
    )
    # The same gate key signed both: only the registry id tells them apart.
    write_raw(two, pointer_key("dev", MODEL_NAME), read_raw(one, pointer_key("dev", MODEL_NAME)))
    with pytest.raises(VerificationError, match="another registry"):
        read_verified_pointer(two, "dev", MODEL_NAME, keys)
    # A whole trail replayed into the other registry.
    third = RegistryTarget(f"file://{tmp_path / 'third'}", {})
    _two_pushes(workspace, third)
    replay = third.open()
    for key in (AUDIT_LOG, AUDIT_HEAD, pointer_key("dev", MODEL_NAME)):
        write_raw(replay, key, read_raw(one, key))
    report = verify_audit(replay, keys)
    assert report.problem is not None and report.problem.record == 0
    assert "belongs to another registry" in report.problem.message


def test_audit_verify_cli_reports_a_copied_back_pointer(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    old = _two_pushes(workspace, file_registry)
    cli = make_cli(workspace, file_registry)
    assert cli("audit", "verify", "--gate-pub", "gate.pub").code == 0
    write_raw(file_registry.open(), pointer_key("dev", MODEL_NAME), old)
    run = cli("audit", "verify", "--gate-pub", "gate.pub")
    assert run.code == 1
    assert "is not the latest allow" in run.stdout


def test_counters_are_one_more_than_the_stage_highest_and_checked(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    _two_pushes(workspace, file_registry)
    registry = file_registry.open()
    keys = [_gate_pub(workspace)]
    assert read_verified_pointer(registry, "dev", MODEL_NAME, keys).counter == 2  # type: ignore[union-attr]
    other = open_gate(gate_options(workspace, file_registry.url))
    assert not push(other, workspace.sealed("0.9.0"), "alice").allowed  # a deny takes none
    records = [json.loads(line) for line in registry.read_audit().splitlines()]
    assert [r["counter"] for r in records] == [1, 2, None]
    assert verify_audit(registry, keys).ok
    # A record re-signed with a counter that does not advance its stage is named.
    gate_key = load_signing_private_key(workspace.path("gate.key"))
    from sealgate.promotion._audit import RECORD_TYPE
    from sealgate.promotion._signed import sign_document

    lines = registry.read_audit().splitlines()
    second = json.loads(lines[1])
    body = {k: v for k, v in second.items() if k not in ("gate_key_id", "sig")} | {"counter": 1}
    lines[1] = sign_document(body, RECORD_TYPE, gate_key)
    write_raw(registry, AUDIT_LOG, b"".join(line + b"\n" for line in lines))
    problem = verify_audit(registry, keys).problem
    assert problem is not None and problem.record == 1
    assert "counter 1 for stage dev, not above the stage's highest 1" in problem.message


def test_the_unseal_facts_see_through_a_cut_log_with_the_witness(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    witness = str(tmp_path / "witness")
    context = open_gate(gate_options(workspace, file_registry.url))
    context.registry.witness = open_registry(file_registry.url, witness=witness).witness
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    registry = context.registry
    old_pointer = read_raw(registry, pointer_key("dev", MODEL_NAME))
    old_log, old_head = registry.read_audit(), registry.read_audit_head()
    assert push(context, workspace.sealed("1.1.0"), "alice").allowed
    # Pointer copied back, and the log and head cut back to match it.
    write_raw(registry, pointer_key("dev", MODEL_NAME), old_pointer)
    write_raw(registry, AUDIT_LOG, old_log)
    write_raw(registry, AUDIT_HEAD, old_head or b"")
    keys = [_gate_pub(workspace)]
    assert VerifiedPointers(open_registry(file_registry.url), keys).current("dev", MODEL_NAME)
    with pytest.raises(VerificationError, match="witnessed head counts 2 records"):
        VerifiedPointers(open_registry(file_registry.url, witness=witness), keys).current(
            "dev", MODEL_NAME
        )


def test_a_garbage_pointer_file_is_reported_not_crashed_on(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    _two_pushes(workspace, file_registry)
    registry = file_registry.open()
    write_raw(registry, pointer_key("prod", MODEL_NAME), b'{"name": 1}')
    with pytest.raises(VerificationError, match="not a stage pointer"):
        read_verified_pointer(registry, "prod", MODEL_NAME, [_gate_pub(workspace)])
    problem = verify_audit(registry, _gate_pub(workspace)).problem
    assert problem is not None and "not a stage pointer" in problem.message
