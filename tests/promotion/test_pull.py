"""`sealgate pull`: what a workload's init step fetches is the sealed model the gate made current
in a stage, byte for byte; a pointer the gate did not sign, or stored bytes that are not the
pointer's digest, deliver nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sealgate.errors import DeniedError, VerificationError
from sealgate.promotion import sealed_model_digest
from sealgate.promotion._pull import pull_model
from sealgate.promotion._registry import STAGES, model_prefix
from sealgate.promotion._service import push
from sealgate.sealing._signing_keys import load_signing_private_key

from tests.promotion.conftest import MODEL_NAME, CliRunner, RegistryTarget, Workspace, gate


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def pull(cli: CliRunner, into: Path, stage: str = "dev", gate_pub: str = "gate.pub") -> tuple:
    run = cli("pull", MODEL_NAME, "--stage", stage, "--gate-pub", gate_pub, "--into", str(into),
              "--json")  # fmt: skip
    return run.code, run.stdout, run.stderr


def test_pull_fetches_exactly_the_current_sealed_model(
    cli: CliRunner, workspace: Workspace, tmp_path: Path
) -> None:
    assert cli("push", "sealed-1.0.0", "--trust", "release.pub").code == 0
    into = tmp_path / "pod" / "sealed" / "current"
    code, stdout, stderr = pull(cli, into)
    assert code == 0, stderr
    summary = json.loads(stdout)
    digest = sealed_model_digest(workspace.sealed("1.0.0"))
    assert summary == {
        "name": MODEL_NAME,
        "version": "1.0.0",
        "digest": digest,
        "stage": "dev",
        "into": str(into),
    }
    assert tree(into) == tree(workspace.sealed("1.0.0"))
    # The pulled copy is what `sealgate verify` accepts with the release signer.
    verified = cli("verify", str(into), "--trust", "release.pub", "--name", MODEL_NAME)
    assert verified.code == 0, verified.stderr


def test_a_model_not_in_the_stage_is_denied_and_nothing_is_written(
    cli: CliRunner, tmp_path: Path
) -> None:
    assert cli("push", "sealed-1.0.0", "--trust", "release.pub").code == 0
    into = tmp_path / "current"
    code, _, stderr = pull(cli, into, stage="prod")
    assert code == 1 and f"{MODEL_NAME} is not in stage prod" in stderr
    assert "Traceback" not in stderr and not into.exists()


def test_a_pointer_signed_by_another_key_is_refused(
    cli: CliRunner, workspace: Workspace, tmp_path: Path
) -> None:
    """The pod trusts the gate key only: a registry writer's own pointer moves nothing."""
    assert cli("push", "sealed-1.0.0", "--trust", "release.pub").code == 0
    code, _, stderr = pull(cli, tmp_path / "current", gate_pub="rogue.pub")
    assert code != 0 and "refused" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "current").exists()


def test_a_non_empty_destination_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("push", "sealed-1.0.0", "--trust", "release.pub").code == 0
    into = tmp_path / "current"
    into.mkdir()
    (into / "left-over").write_text("x")
    code, _, stderr = pull(cli, into)
    assert code == 2 and "not empty" in stderr


def test_stored_bytes_that_are_not_the_pointers_digest_are_refused(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Attack: the stored header of the promoted digest is replaced by another model's (a
    registry writer without the gate key). The copy is removed, nothing is delivered."""
    root = tmp_path / "registry"
    target = RegistryTarget(f"file://{root}", {})
    context = gate(workspace, target)
    assert push(context, workspace.sealed("1.0.0"), workspace.requester()).allowed
    digest = sealed_model_digest(workspace.sealed("1.0.0"))
    stored = root / model_prefix(digest)
    shutil.copy(workspace.sealed("1.1.0") / "seal.json", stored / "seal.json")
    gate_key = load_signing_private_key(workspace.path("gate.key")).public_key()
    into = tmp_path / "current"
    with pytest.raises(VerificationError, match="refused"):
        pull_model(target.open(), "dev", MODEL_NAME, [gate_key], into)
    assert not into.exists()
    # And without the stage pointer there is nothing to pull.
    shutil.rmtree(root / STAGES)
    with pytest.raises(DeniedError, match="not in stage dev"):
        pull_model(target.open(), "dev", MODEL_NAME, [gate_key], into)
