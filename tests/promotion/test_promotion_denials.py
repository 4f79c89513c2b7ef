"""Every denial case: the policy (exit 1) or the input check (exit 2) refuses, with the reason,
and the registry's pointers and models stay as they were."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.promotion import sealed_model_digest
from sealgate.promotion._approvals import create_approval
from sealgate.promotion._gate import PromotionResult
from sealgate.promotion._request import PromotionRequest
from sealgate.promotion._service import approve, open_gate, promote, push
from sealgate.sealing._signing_keys import load_signing_private_key

from tests.promotion.conftest import (
    MODEL_NAME,
    RegistryTarget,
    Workspace,
    gate_options,
    make_cli,
    snapshot,
)
from tests.promotion.test_promotion_cli import write_evidence


@pytest.fixture
def staged(workspace: Workspace, file_registry: RegistryTarget):  # type: ignore[no-untyped-def]
    """A registry with 1.0.0 pushed to dev, and a gate over it."""
    context = open_gate(gate_options(workspace, file_registry.url))
    assert push(context, workspace.sealed("1.0.0"), "alice").allowed
    return context


def digest_of(workspace: Workspace, version: str = "1.0.0") -> str:
    return sealed_model_digest(workspace.sealed(version))


def approval(workspace: Workspace, who: str, request: PromotionRequest, name: str) -> Path:
    path = workspace.root / "approvals" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(
        create_approval(request, load_signing_private_key(workspace.path(f"{who}.key")))
    )
    return path


def staging_request(workspace: Workspace, requester: str = "dave") -> PromotionRequest:
    """The request ``requester`` signs with their key (approvals name that identity)."""
    identity = workspace.identity(requester)
    return PromotionRequest(MODEL_NAME, "1.0.0", digest_of(workspace), "dev", "staging", identity)


def ids(result: PromotionResult) -> set[str]:
    assert not result.allowed
    assert result.record.startswith("sha256:")
    return {f.rule_id for f in result.findings}


def promote_to_staging(context, workspace: Workspace, approvals: list[Path], evidence=None,  # type: ignore[no-untyped-def]
                       requester="dave", **kw):  # fmt: skip
    if evidence is None:
        evidence = [
            workspace.path(p) for p in write_evidence(workspace, digest_of(workspace), "ok")
        ]
    proof = workspace.requester(requester) if requester in ("alice", "dave") else requester
    return promote(context, MODEL_NAME, "1.0.0", "staging", proof, approvals=approvals,
                   evidence=evidence, **kw)  # fmt: skip


def test_promotion_untrusted_signer_is_denied(workspace: Workspace, file_registry) -> None:  # type: ignore[no-untyped-def]
    context = open_gate(gate_options(workspace, file_registry.url))
    result = push(context, workspace.root / "sealed-1.2.0-rogue", "alice")
    assert ids(result) == {"SG-PROMO-002"}
    assert snapshot(file_registry) == ()
    assert not list((Path(file_registry.url[7:]) / "models").glob("*"))


def test_promotion_revoked_signer_is_denied(workspace: Workspace, file_registry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    trust = tmp_path / "trust.yaml"
    trust.write_text(
        f"signers:\n  - name: release\n    public_key_path: {workspace.path('release.pub')}\n"
        "    revoked: true\n"
    )
    context = open_gate(gate_options(workspace, file_registry.url, trust=trust))
    assert ids(push(context, workspace.sealed("1.0.0"), "alice")) == {"SG-PROMO-003"}
    assert snapshot(file_registry) == ()


def test_promotion_unsigned_model_is_an_input_error(
    workspace: Workspace, file_registry, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    unsigned = tmp_path / "unsigned"
    shutil.copytree(workspace.sealed("1.0.0"), unsigned)
    (unsigned / "seal.json").write_text('{"model": "not signed"}')
    run = make_cli(workspace, file_registry)("push", str(unsigned), "--trust", "release.pub")
    assert run.code == 2
    assert "not a sealed model" in run.stderr
    assert snapshot(file_registry) == ()


def test_promotion_tampered_model_in_registry_is_denied(
    workspace: Workspace, staged, file_registry
) -> None:  # type: ignore[no-untyped-def]
    stored = Path(file_registry.url[7:]) / "models" / digest_of(workspace).removeprefix("sha256:")
    cipher = stored / "payload" / "000001.enc"
    cipher.chmod(0o644)
    data = bytearray(cipher.read_bytes())
    data[100] ^= 1
    cipher.write_bytes(bytes(data))
    before = snapshot(file_registry)
    request = staging_request(workspace)
    result = promote_to_staging(staged, workspace, [approval(workspace, "bob", request, "bob")])
    assert ids(result) == {"SG-PROMO-001"}
    assert "ciphertext digest does not match" in result.reasons[0]
    assert snapshot(file_registry) == before


def test_promotion_forged_and_duplicated_approvals_are_denied(
    workspace: Workspace, staged, file_registry
) -> None:  # type: ignore[no-untyped-def]
    request = staging_request(workspace)
    bob = approval(workspace, "bob", request, "bob")
    forged = workspace.root / "approvals" / "forged.json"
    envelope = json.loads(bob.read_bytes())
    payload = json.loads(__import__("base64").b64decode(envelope["payload"]))
    payload["request"]["version"] = "9.9.9"
    envelope["payload"] = (
        __import__("base64")
        .b64encode(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
        .decode()
    )
    forged.write_text(json.dumps(envelope, sort_keys=True, separators=(",", ":")))
    mallory = approval(workspace, "mallory", request, "mallory")
    before = snapshot(file_registry)
    result = promote_to_staging(staged, workspace, [forged, mallory])
    assert ids(result) == {"SG-PROMO-020", "SG-PROMO-022"}
    assert sum(f.rule_id == "SG-PROMO-022" for f in result.findings) == 2
    assert ids(promote_to_staging(staged, workspace, [bob, bob])) == {"SG-PROMO-025"}
    assert snapshot(file_registry) == before


def test_promotion_self_approval_and_reused_approval_are_denied(
    workspace: Workspace, staged
) -> None:  # type: ignore[no-untyped-def]
    own = approval(workspace, "alice", staging_request(workspace, "alice"), "alice")
    assert ids(promote_to_staging(staged, workspace, [own], requester="alice")) == {
        "SG-PROMO-020",
        "SG-PROMO-021",
    }
    eve = "key:" + "e" * 64
    other = PromotionRequest(MODEL_NAME, "1.0.0", digest_of(workspace), "dev", "staging", eve)
    reused = approval(workspace, "bob", other, "bob-for-eve")
    assert ids(promote_to_staging(staged, workspace, [reused])) == {"SG-PROMO-020", "SG-PROMO-023"}


def test_promotion_evidence_for_another_digest_is_denied(workspace: Workspace, staged) -> None:  # type: ignore[no-untyped-def]
    bob = approval(workspace, "bob", staging_request(workspace), "bob")
    other = [
        workspace.path(p) for p in write_evidence(workspace, digest_of(workspace, "0.9.0"), "other")
    ]
    result = promote_to_staging(staged, workspace, [bob], evidence=other[:2])
    assert ids(result) == {"SG-PROMO-031", "SG-PROMO-032"}


def test_promotion_malformed_evidence_and_thresholds(workspace: Workspace, staged) -> None:  # type: ignore[no-untyped-def]
    bob = approval(workspace, "bob", staging_request(workspace), "bob")
    digest = digest_of(workspace)
    bad = [workspace.path(p) for p in write_evidence(
        workspace, digest, "bad", metrics={"metrics": {"accuracy": 0.5}},
        scan={"findings": {"critical": 2, "high": 0, "medium": 0, "low": 0}})]  # fmt: skip
    assert ids(promote_to_staging(staged, workspace, [bob], evidence=bad[:2])) == {
        "SG-PROMO-033",
        "SG-PROMO-034",
    }
    broken = workspace.path("broken.json")
    broken.write_text("{not json")
    result = promote_to_staging(staged, workspace, [bob], evidence=[*bad[:1], broken])
    assert ids(result) == {"SG-PROMO-030", "SG-PROMO-032", "SG-PROMO-033"}


def test_promotion_unknown_and_skipped_stages_are_denied(
    workspace: Workspace, staged, file_registry
) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(file_registry)
    result = promote(staged, MODEL_NAME, "1.0.0", "qa", "alice", source="dev")
    assert ids(result) == {"SG-PROMO-005"}
    skipped = promote(staged, MODEL_NAME, "1.0.0", "prod", "alice", source="dev")
    assert "SG-PROMO-006" in ids(skipped)
    assert snapshot(file_registry) == before


def test_promotion_rollback_is_denied(workspace: Workspace, staged, file_registry) -> None:  # type: ignore[no-untyped-def]
    assert push(staged, workspace.sealed("1.1.0"), "alice").allowed
    older = push(staged, workspace.sealed("0.9.0"), "alice")
    assert ids(older) == {"SG-PROMO-009"}
    again = push(staged, workspace.sealed("1.1.0"), "alice")
    assert ids(again) == {"SG-PROMO-009"}
    assert file_registry.open().current("dev", MODEL_NAME).version == "1.1.0"  # type: ignore[union-attr]


def test_promotion_of_digest_not_in_source_is_denied(workspace: Workspace, staged) -> None:  # type: ignore[no-untyped-def]
    other = digest_of(workspace, "0.9.0")
    result = promote(staged, MODEL_NAME, "1.0.0", "staging", "alice", digest=other)
    assert {"SG-PROMO-001", "SG-PROMO-007"} <= ids(result)


@pytest.mark.parametrize(
    "args, message",
    [
        (("../escape", "1.0.0", "--to", "staging"), "model name"),
        ((MODEL_NAME, "1.0.0", "--to", "Staging!", "--digest", "sha256:" + "0" * 64), "stage"),
        ((MODEL_NAME, "1.0.0", "--to", "staging", "--digest", "md5:abc"), "not a digest"),
        ((MODEL_NAME, "7.7.7", "--to", "staging"), "not in dev"),
    ],
)
def test_promotion_malformed_request_is_an_input_error(
    workspace: Workspace, file_registry: RegistryTarget, args: tuple[str, ...], message: str
) -> None:
    run = make_cli(workspace, file_registry)("promote", *args, "--trust", "release.pub")
    assert run.code == 2, run.stdout + run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (Path(file_registry.url[7:]) / "audit" / "log.jsonl").exists()


def test_promotion_approve_refuses_to_overwrite(workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    args = (
        MODEL_NAME,
        "1.0.0",
        "staging",
        digest_of(workspace),
        workspace.identity("dave"),
        workspace.path("bob.key"),
    )
    approve(*args, out)
    with pytest.raises(InputError, match="never overwritten"):
        approve(*args, out)
