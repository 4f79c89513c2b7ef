"""dev -> staging -> prod from the command line, on the filesystem and on Azurite."""

from __future__ import annotations

import json
from pathlib import Path

from sealgate.promotion import sealed_model_digest

from tests.promotion.conftest import (
    MODEL_NAME,
    PREDICATES,
    CliRunner,
    RegistryTarget,
    Workspace,
    attest,
    make_cli,
    snapshot,
)

GATE = ("--trust", "release.pub")
# Dave signs his requests; prod's KEK is the workspace's recipient key.
REVIEW = ("--approvers", "approvers.yaml", "--requester-key", "dave.key",
          "--policies", "kek-policies")  # fmt: skip


def write_evidence(workspace: Workspace, digest: str, tag: str, **overrides: object) -> list[str]:
    """Signed metrics, scan and SBOM attestations about ``digest``, within every stage's limits;
    ``overrides`` replace parts of a predicate (``metrics={"metrics": {...}}``)."""
    paths = []
    for kind, predicate in PREDICATES.items():
        changed = {**predicate, **overrides.get(kind, {})}  # type: ignore[dict-item]
        paths.append(attest(workspace, kind, digest, f"{tag}-{kind}.intoto.json", changed).name)
    return paths


def approve(cli: CliRunner, workspace: Workspace, who: str, digest: str, to: str, tag: str) -> str:
    out = workspace.path(f"{tag}-{who}.approval.json")
    out.unlink(missing_ok=True)
    run = cli(
        "approve", MODEL_NAME, "1.0.0", "--to", to, "--digest", digest,
        "--requester", workspace.identity("dave"), "--key", f"{who}.key", "--out", out.name,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    return out.name


def evidence_args(paths: list[str]) -> list[str]:
    return [arg for path in paths for arg in ("--evidence", path)]


def test_promotion_dev_staging_prod_end_to_end(
    cli: CliRunner, workspace: Workspace, registry_target: RegistryTarget
) -> None:
    digest = sealed_model_digest(workspace.sealed("1.0.0"))
    tag = registry_target.url.split("://")[0]
    pushed = cli("push", "sealed-1.0.0", *GATE)
    assert pushed.code == 0, pushed.stderr
    assert f"allowed: {MODEL_NAME} 1.0.0" in pushed.stdout

    evidence = evidence_args(write_evidence(workspace, digest, tag))
    bob = approve(cli, workspace, "bob", digest, "staging", tag)
    staged = cli("promote", MODEL_NAME, "1.0.0", "--to", "staging", *GATE, *REVIEW,
                 "--approval", bob, *evidence)  # fmt: skip
    assert staged.code == 0, staged.stdout + staged.stderr

    prod_approvals = [
        arg
        for who in ("bob", "carol")
        for arg in ("--approval", approve(cli, workspace, who, digest, "prod", tag))
    ]
    released = cli("promote", MODEL_NAME, "1.0.0", "--to", "prod", *GATE, *REVIEW,
                   *prod_approvals, *evidence, "--json")  # fmt: skip
    assert released.code == 0, released.stdout + released.stderr
    assert json.loads(released.stdout)["decision"] == "allow"

    status = cli("status", "--json")
    assert status.code == 0, status.stderr
    stages = json.loads(status.stdout)[MODEL_NAME]
    assert {stage: entry["digest"] for stage, entry in stages.items()} == {
        "dev": digest,
        "staging": digest,
        "prod": digest,
    }
    assert f"{MODEL_NAME}" in cli("status").stdout

    verified = cli("audit", "verify", "--gate-pub", "gate.pub", "--json")
    assert verified.code == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout) | {"problem": None} == {
        "ok": True,
        "records": 3,
        "allow": 3,
        "deny": 0,
        "conflict": 0,
        "aborted": 0,
        "bad_record": None,
        "problem": None,
        "torn_offset": None,
    }
    # The registry reports where the model is for the unseal authorization.
    registry = registry_target.open()
    assert registry.current("prod", MODEL_NAME).digest == digest  # type: ignore[union-attr]
    assert registry.current("prod", "other-model") is None


def test_promotion_denial_prints_every_reason_and_records_it(
    cli: CliRunner, workspace: Workspace, registry_target: RegistryTarget
) -> None:
    assert cli("push", "sealed-1.0.0", *GATE).code == 0
    before = snapshot(registry_target)
    denied = cli("promote", MODEL_NAME, "1.0.0", "--to", "staging", *GATE, *REVIEW)
    assert denied.code == 1
    assert "SG-PROMO-020" in denied.stdout
    assert denied.stdout.count("SG-PROMO-032") == 2  # metrics and scan both missing
    assert "nothing was changed" in denied.stdout
    assert snapshot(registry_target) == before
    verified = cli("audit", "verify", "--gate-pub", "gate.pub")
    assert verified.code == 0
    assert "2 records (1 allow, 1 deny, 0 conflict)" in verified.stdout


def test_promotion_needs_registry_container(workspace: Workspace, azurite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.promotion.conftest import AZURITE_ACCOUNT, make_cli

    target = RegistryTarget(
        f"azblob://{AZURITE_ACCOUNT}/missing-container",
        {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string},
    )
    run = make_cli(workspace, target)("status")
    assert run.code == 2
    assert "container does not exist" in run.stderr


def test_printed_digests_are_what_the_digest_flags_take(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    cli = make_cli(workspace, file_registry)
    digest = sealed_model_digest(workspace.sealed("1.0.0"))
    verified = cli("verify", "sealed-1.0.0", "--trust", "release.pub")
    assert verified.code == 0 and verified.stdout.rstrip().endswith(f"; digest {digest}")
    pushed = cli("push", "sealed-1.0.0", *GATE)
    assert pushed.code == 0, pushed.stderr
    assert f"({digest}) (new) -> dev; audit record sha256:" in pushed.stdout
    [row] = cli("status").stdout.splitlines()[1:]
    printed = row.split()[-1]
    assert printed == digest
    approved = cli(
        "approve", MODEL_NAME, "1.0.0", "--to", "staging", "--digest", printed,
        "--requester", workspace.identity("dave"), "--key", "bob.key",
        "--out", str(tmp_path / "a.json"),
    )  # fmt: skip
    assert approved.code == 0, approved.stderr
    assert f"approved {MODEL_NAME} 1.0.0 ({digest}) dev -> staging" in approved.stdout
    denied = cli("promote", MODEL_NAME, "1.0.0", "--to", "staging", "--digest", printed, *GATE)
    assert denied.code == 1, denied.stdout + denied.stderr  # a decision, not a usage error
    assert denied.stdout.startswith(f"denied: {MODEL_NAME} 1.0.0 ({digest}) dev -> staging")


def test_an_approvers_file_written_by_the_trust_commands_counts_approvals(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    cli = make_cli(workspace, file_registry)
    approvers = tmp_path / "approvers.yaml"
    for who in ("bob", "carol"):
        added = cli("trust", "add", "--file", str(approvers), "--name", who, "--key", f"{who}.pub")
        assert added.code == 0, added.stderr
    digest = sealed_model_digest(workspace.sealed("1.0.0"))
    assert cli("push", "sealed-1.0.0", *GATE).code == 0
    evidence = evidence_args(write_evidence(workspace, digest, "trust-cmd"))
    bob = approve(cli, workspace, "bob", digest, "staging", "trust-cmd")
    staged = cli("promote", MODEL_NAME, "1.0.0", "--to", "staging", *GATE, *REVIEW,
                 "--approvers", str(approvers), "--approval", bob, *evidence)  # fmt: skip
    assert staged.code == 0, staged.stdout + staged.stderr
    # Revoked with the same commands, bob's approval no longer counts.
    revoked = cli("trust", "revoke", "--file", str(approvers), "--name", "bob")
    assert revoked.code == 0, revoked.stderr
    bob_prod = approve(cli, workspace, "bob", digest, "prod", "trust-cmd")
    carol_prod = approve(cli, workspace, "carol", digest, "prod", "trust-cmd")
    denied = cli("promote", MODEL_NAME, "1.0.0", "--to", "prod", *GATE, *REVIEW,
                 "--approvers", str(approvers), "--approval", bob_prod, "--approval", carol_prod,
                 *evidence, "--json")  # fmt: skip
    assert denied.code == 1, denied.stdout + denied.stderr
    assert any("revoked" in reason for reason in json.loads(denied.stdout)["reasons"])
