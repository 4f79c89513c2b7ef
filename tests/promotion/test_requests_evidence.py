"""Who asked and what the evidence says: signed requests, CI OIDC requesters, signed evidence,
and enforced stages sealed only to their KEKs. Each attack on the unauthenticated gate is
replayed here through the command line or the gate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sealgate.promotion import sealed_model_digest
from sealgate.promotion._request import PromotionRequest, sign_request
from sealgate.promotion._requester import RequesterProof, verify_signed_request
from sealgate.promotion._service import open_gate, promote, push
from sealgate.sealing import load_signing_private_key, load_trust

from tests.keyserver.pki import make_pki
from tests.oidc_issuer import OidcIssuer
from tests.promotion.conftest import (
    MODEL_NAME,
    CliRunner,
    RegistryTarget,
    Workspace,
    attest,
    gate_options,
    make_cli,
)
from tests.promotion.test_promotion_cli import evidence_args, write_evidence

GATE = ("--trust", "release.pub")


def digest_of(workspace: Workspace, version: str = "1.0.0") -> str:
    return sealed_model_digest(workspace.sealed(version))


def last_record(target: RegistryTarget) -> dict[str, object]:
    record: dict[str, object] = json.loads(target.open().read_audit().splitlines()[-1])
    return record


@pytest.fixture
def dev(workspace: Workspace, file_registry: RegistryTarget) -> CliRunner:
    """The command line over a registry that has 1.0.0 in dev."""
    cli = make_cli(workspace, file_registry)
    pushed = cli("push", "sealed-1.0.0", *GATE)
    assert pushed.code == 0, pushed.stdout + pushed.stderr
    return cli


def approve(cli: CliRunner, workspace: Workspace, who: str, requester: str, tag: str) -> str:
    out = workspace.path(f"{tag}-{who}.approval.json")
    out.unlink(missing_ok=True)
    run = cli("approve", MODEL_NAME, "1.0.0", "--to", "staging", "--digest", digest_of(workspace),
              "--requester", requester, "--key", f"{who}.key", "--out", out.name)  # fmt: skip
    assert run.code == 0, run.stderr
    return out.name


def to_staging(cli: CliRunner, *args: str) -> tuple[int, dict[str, object], str]:
    run = cli("promote", MODEL_NAME, "1.0.0", "--to", "staging", *GATE,
              "--approvers", "approvers.yaml", *args, "--json")  # fmt: skip
    assert run.code in (0, 1), run.stdout + run.stderr
    summary = json.loads(run.stdout)
    reasons = "\n".join(summary["reasons"])
    return run.code, summary, reasons


def rule_ids(summary: dict[str, object]) -> set[str]:
    return {str(reason).split(":")[0] for reason in summary["reasons"]}  # type: ignore[attr-defined]


# --- requesters ---------------------------------------------------------------------------


def test_an_approver_naming_someone_else_as_requester_is_denied(
    workspace: Workspace, dev: CliRunner, file_registry: RegistryTarget
) -> None:
    """The attack: alice approves her own promotion and names dave as the requester."""
    evidence = evidence_args(write_evidence(workspace, digest_of(workspace), "self"))
    for_dave = approve(dev, workspace, "alice", workspace.identity("dave"), "self")
    code, summary, _ = to_staging(dev, "--requester", "dave", "--approval", for_dave, *evidence)
    assert code == 1
    # A typed name proves nothing, and the approval names an identity that did not ask.
    assert rule_ids(summary) == {"SG-PROMO-040", "SG-PROMO-023", "SG-PROMO-020"}
    assert last_record(file_registry)["actor"] == "unverified:dave"

    # Signing as herself, her approval of her own request does not count.
    for_alice = approve(dev, workspace, "alice", workspace.identity("alice"), "self")
    code, summary, reasons = to_staging(
        dev, "--requester-key", "alice.key", "--approval", for_alice, *evidence
    )
    assert code == 1
    assert rule_ids(summary) == {"SG-PROMO-021", "SG-PROMO-020"}
    assert "alice approved their own promotion" in reasons
    assert last_record(file_registry)["actor"] == workspace.identity("alice")
    assert file_registry.open().current("staging", MODEL_NAME) is None


def test_a_signed_request_and_signed_evidence_are_allowed_and_recorded(
    workspace: Workspace, dev: CliRunner, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    digest = digest_of(workspace)
    predicate = tmp_path / "metrics.json"
    predicate.write_text(json.dumps({"dataset": "holdout", "metrics": {"accuracy": 0.91}}))
    signed = dev("evidence", "sign", "--type", "metrics", "--predicate", str(predicate),
                 "--digest", digest, "--key", "evaluator.key", "--out", "ok-metrics.dsse.json")  # fmt: skip
    assert signed.code == 0, signed.stderr
    envelope = json.loads(workspace.path("ok-metrics.dsse.json").read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    scan = attest(workspace, "scan", digest, "ok-scan.dsse.json")
    bob = approve(dev, workspace, "bob", workspace.identity("dave"), "ok")
    code, summary, reasons = to_staging(dev, "--requester-key", "dave.key", "--approval", bob,
                                        "--evidence", "ok-metrics.dsse.json",
                                        "--evidence", scan.name)  # fmt: skip
    assert code == 0, reasons
    assert summary["request"]["requester"] == workspace.identity("dave")  # type: ignore[index]
    record = last_record(file_registry)
    assert (record["decision"], record["actor"]) == ("allow", workspace.identity("dave"))
    assert file_registry.open().current("staging", MODEL_NAME).digest == digest  # type: ignore[union-attr]


def test_a_requester_key_that_is_not_listed_is_unauthenticated(
    workspace: Workspace, dev: CliRunner
) -> None:
    evidence = evidence_args(write_evidence(workspace, digest_of(workspace), "unlisted"))
    bob = approve(dev, workspace, "bob", workspace.identity("mallory"), "unlisted")
    code, summary, reasons = to_staging(
        dev, "--requester-key", "mallory.key", "--approval", bob, *evidence
    )
    assert code == 1
    # Unproven, the request is not mallory's: bob's approval of mallory's request does not count.
    assert rule_ids(summary) == {"SG-PROMO-040", "SG-PROMO-023", "SG-PROMO-020"}
    assert "is not listed in" in reasons


def _request(workspace: Workspace, **changes: str) -> PromotionRequest:
    fields = {"name": MODEL_NAME, "version": "1.0.0", "digest": digest_of(workspace),
              "source": "dev", "target": "staging", "requester": "unverified:x", **changes}  # fmt: skip
    return PromotionRequest(**fields)  # type: ignore[arg-type]


def test_a_signed_request_verifies_only_for_its_promotion_key_and_time(
    workspace: Workspace, tmp_path: Path
) -> None:
    requesters = load_trust(workspace.path("requesters.yaml"))
    dave = load_signing_private_key(workspace.path("dave.key"))
    request = _request(workspace)
    good = verify_signed_request(sign_request(request, dave), request, requesters)
    assert (good["verified"], good["identity"], good["name"]) == (
        True,
        workspace.identity("dave"),
        "dave",
    )
    # Replayed for another promotion: the signature covers the target stage.
    to_prod = _request(workspace, target="prod", source="staging")
    assert not verify_signed_request(sign_request(request, dave), to_prod, requesters)["verified"]
    # Replayed an hour later.
    old = sign_request(request, dave, now=datetime.now(UTC) - timedelta(hours=1))
    stale = verify_signed_request(old, request, requesters)
    assert not stale["verified"] and "10 minutes" in str(stale["problem"])
    # Altered payload: the signature no longer verifies.
    envelope = json.loads(sign_request(request, dave))
    envelope["payload"] = envelope["payload"][:-4] + "AAA="
    altered = verify_signed_request(json.dumps(envelope).encode(), request, requesters)
    assert not altered["verified"]
    # A revoked requester key proves nothing.
    revoked = tmp_path / "requesters.yaml"
    revoked.write_text(
        f"signers:\n  - name: dave\n    public_key_path: {workspace.path('dave.pub')}\n"
        "    revoked: true\n"
    )
    facts = verify_signed_request(sign_request(request, dave), request, load_trust(revoked))
    assert not facts["verified"] and "revoked" in str(facts["problem"])


# --- CI OIDC requesters ----------------------------------------------------------------------


CI_SUBJECT = "repo:example/models:ref:refs/heads/main"
CI_AUDIENCE = "sealgate-promotion"


@pytest.fixture
def issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OidcIssuer]:
    pki = make_pki(tmp_path / "pki")
    # The gate trusts the system store; here that store is the test CA (in-process and in
    # the command line's subprocess alike).
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    running = OidcIssuer(pki)
    try:
        yield running
    finally:
        running.close()


def ci_token(issuer: OidcIssuer, **claims: object) -> str:
    return issuer.mint({"aud": CI_AUDIENCE, "sub": CI_SUBJECT, **claims})


def _oidc_policies(root: Path, issuer: OidcIssuer) -> Path:
    folder = root / "oidc-policies"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    config = {"requesters": {"oidc_issuers": [
        {"issuer": issuer.issuer, "audiences": [CI_AUDIENCE]}]}}  # fmt: skip
    (folder / "data" / "promotion.yaml").write_text(yaml.safe_dump(config))
    return folder


def test_a_ci_oidc_token_authenticates_the_requester(
    workspace: Workspace, dev: CliRunner, file_registry: RegistryTarget, issuer: OidcIssuer,
    tmp_path: Path,
) -> None:  # fmt: skip
    policies = _oidc_policies(tmp_path, issuer)
    identity = f"oidc:{issuer.issuer}#{CI_SUBJECT}"
    token = tmp_path / "token"
    token.write_text(ci_token(issuer))
    evidence = evidence_args(write_evidence(workspace, digest_of(workspace), "oidc"))
    bob = approve(dev, workspace, "bob", identity, "oidc")
    code, _, reasons = to_staging(dev, "--oidc-token", str(token), "--policies",
                                        str(policies), "--approval", bob, *evidence)  # fmt: skip
    assert code == 0, reasons
    assert last_record(file_registry)["actor"] == identity


@pytest.mark.parametrize(
    "make_token, problem",
    [
        (lambda i: ci_token(i, exp=1_000_000, iat=900_000, nbf=900_000), "expired"),
        (lambda i: ci_token(i, aud="someone-else"), "Audience doesn't match"),
        (
            lambda i: i.forge({"aud": CI_AUDIENCE, "sub": CI_SUBJECT}),
            "Signature verification failed",
        ),
        (
            lambda i: ci_token(i, iss="https://token.actions.githubusercontent.com"),
            "not a configured",
        ),
        (lambda i: "not-a-jwt", "not a JWT"),
    ],
    ids=["expired", "wrong-audience", "forged", "unconfigured-issuer", "garbage"],
)
def test_a_bad_ci_oidc_token_is_an_unauthenticated_request(
    workspace: Workspace, file_registry: RegistryTarget, issuer: OidcIssuer, tmp_path: Path,
    make_token, problem: str,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    policies = _oidc_policies(tmp_path, issuer)
    options = gate_options(workspace, file_registry.url)
    from sealgate.policy import builtin_policy_root

    context = open_gate(
        gate_options(workspace, file_registry.url, policies=(builtin_policy_root(), policies))
    )
    assert push(open_gate(options), workspace.sealed("1.0.0"), "release-ci").allowed
    token = tmp_path / "token"
    token.write_text(make_token(issuer))
    evidence = [workspace.path(p) for p in write_evidence(workspace, digest_of(workspace), "bad")]
    result = promote(context, MODEL_NAME, "1.0.0", "staging", RequesterProof(oidc_token=token),
                     evidence=evidence[:2])  # fmt: skip
    assert not result.allowed
    assert {f.rule_id for f in result.findings} == {"SG-PROMO-040", "SG-PROMO-020"}
    assert problem in "\n".join(result.reasons)
    assert result.request.requester.startswith("unverified:")


# --- evidence ---------------------------------------------------------------------------------


def test_hand_written_metrics_are_denied_as_unsigned(workspace: Workspace, dev: CliRunner) -> None:
    """The attack: hand-written accuracy 0.999 JSON passed staging."""
    digest = digest_of(workspace)
    workspace.path("fake-metrics.json").write_text(
        json.dumps({"kind": "metrics", "digest": digest, "metrics": {"accuracy": 0.999}})
    )
    scan = attest(workspace, "scan", digest, "fake-scan.dsse.json")
    bob = approve(dev, workspace, "bob", workspace.identity("dave"), "fake")
    code, summary, reasons = to_staging(dev, "--requester-key", "dave.key", "--approval", bob,
                                        "--evidence", "fake-metrics.json", "--evidence", scan.name)  # fmt: skip
    assert code == 1
    assert rule_ids(summary) == {"SG-PROMO-030", "SG-PROMO-032"}
    assert "not a signed attestation" in reasons


@pytest.mark.parametrize(
    "signer, version, expected",
    [
        ("mallory", "1.0.0", "SG-PROMO-035"),  # a key that is not in the producers file
        ("scanner", "1.0.0", "SG-PROMO-036"),  # a listed producer, not trusted for metrics
        ("evaluator", "0.9.0", "SG-PROMO-031"),  # the right producer, about another model
    ],
    ids=["untrusted-key", "wrong-producer", "other-digest"],
)
def test_wrongly_signed_evidence_is_denied(
    workspace: Workspace, file_registry: RegistryTarget, signer: str, version: str, expected: str
) -> None:
    context = open_gate(gate_options(workspace, file_registry.url))
    assert push(context, workspace.sealed("1.0.0"), "release-ci").allowed
    request = _request(workspace, requester=workspace.identity("dave"))
    from sealgate.promotion._approvals import create_approval

    approval = workspace.path(f"{signer}-{version}.approval.json")
    approval.write_bytes(
        create_approval(request, load_signing_private_key(workspace.path("bob.key")))
    )
    metrics = attest(workspace, "metrics", digest_of(workspace, version),
                     f"{signer}-{version}-metrics.dsse.json", signer=signer)  # fmt: skip
    scan = attest(workspace, "scan", digest_of(workspace), "wrong-scan.dsse.json")
    result = promote(context, MODEL_NAME, "1.0.0", "staging", workspace.requester(),
                     approvals=[approval], evidence=[metrics, scan])  # fmt: skip
    assert {f.rule_id for f in result.findings} == {expected, "SG-PROMO-032"}
    # The signature and subject check out for the scanner's metrics; the policy data decides
    # that the scanner is not trusted for metrics.
    assert result.facts["evidence"]["metrics"]["verified"] is (signer == "scanner")
    assert result.facts["evidence"]["scan"]["verified"] is True


def test_two_attestations_of_one_type_count_for_nothing(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    context = open_gate(gate_options(workspace, file_registry.url))
    assert push(context, workspace.sealed("1.0.0"), "release-ci").allowed
    digest = digest_of(workspace)
    low = attest(workspace, "metrics", digest, "low.dsse.json", {"metrics": {"accuracy": 0.1}})
    high = attest(workspace, "metrics", digest, "high.dsse.json")
    scan = attest(workspace, "scan", digest, "two-scan.dsse.json")
    result = promote(context, MODEL_NAME, "1.0.0", "staging", workspace.requester(),
                     evidence=[high, low, scan])  # fmt: skip
    assert {f.rule_id for f in result.findings} == {"SG-PROMO-020", "SG-PROMO-032", "SG-PROMO-038"}


# --- enforced stages: sealed only to the stage's KEKs ---------------------------------------


def _to_prod(workspace: Workspace, file_registry: RegistryTarget, policies: tuple[Path, ...]):  # type: ignore[no-untyped-def]
    """1.0.0 through dev and staging, then the prod decision under ``policies``."""
    from sealgate.policy import builtin_policy_root
    from sealgate.promotion._approvals import create_approval

    context = open_gate(gate_options(workspace, file_registry.url))
    assert push(context, workspace.sealed("1.0.0"), "release-ci").allowed
    evidence = [workspace.path(p) for p in write_evidence(workspace, digest_of(workspace), "kek")]

    def approvals(source: str, target: str) -> list[Path]:
        request = _request(workspace, requester=workspace.identity("dave"), source=source,
                           target=target)  # fmt: skip
        paths = []
        for who in ("bob", "carol"):
            path = workspace.path(f"kek-{who}-{target}.approval.json")
            path.write_bytes(
                create_approval(request, load_signing_private_key(workspace.path(f"{who}.key")))
            )
            paths.append(path)
        return paths

    staged = promote(context, MODEL_NAME, "1.0.0", "staging", workspace.requester(),
                     approvals=approvals("dev", "staging")[:1], evidence=evidence[:2])  # fmt: skip
    assert staged.allowed, staged.reasons
    prod_gate = open_gate(
        gate_options(workspace, file_registry.url, policies=(builtin_policy_root(), *policies))
    )
    return promote(prod_gate, MODEL_NAME, "1.0.0", "prod", workspace.requester(),
                   approvals=approvals("staging", "prod"), evidence=evidence)  # fmt: skip


def test_prod_accepts_a_model_sealed_only_to_its_kek(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    result = _to_prod(workspace, file_registry, (workspace.kek_policies,))
    assert result.allowed, result.reasons
    [recipient] = result.facts["model"]["recipients"]
    assert recipient["type"] == "local"


def test_prod_refuses_a_model_sealed_to_a_consumer_held_key(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    """The workspace's models are sealed to a local key; prod's KEK is another key."""
    stages = yaml.safe_load((workspace.kek_policies / "data" / "promotion.yaml").read_text())
    for stage in stages["stages"]:
        if stage.get("enforced"):
            stage["recipients"] = ["https://vault.vault.azure.net/keys/sealgate-kek-prod/1"]
    (tmp_path / "other-kek" / "data").mkdir(parents=True)
    (tmp_path / "other-kek" / "data" / "promotion.yaml").write_text(yaml.safe_dump(stages))
    result = _to_prod(workspace, file_registry, (tmp_path / "other-kek",))
    assert {f.rule_id for f in result.findings} == {"SG-PROMO-051"}
    assert file_registry.open().current("prod", MODEL_NAME) is None


def test_prod_without_configured_keks_refuses_every_model(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    result = _to_prod(workspace, file_registry, ())
    assert {f.rule_id for f in result.findings} == {"SG-PROMO-050", "SG-PROMO-051"}


def test_a_signed_metric_edited_afterwards_is_denied(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    """Raise the accuracy inside a properly signed attestation: the signature breaks."""
    import base64

    context = open_gate(gate_options(workspace, file_registry.url))
    assert push(context, workspace.sealed("1.0.0"), "release-ci").allowed
    digest = digest_of(workspace)
    low = {"metrics": {"accuracy": 0.5}}
    signed = attest(workspace, "metrics", digest, "edited.dsse.json", low)  # type: ignore[arg-type]
    envelope = json.loads(signed.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["metrics"]["accuracy"] = 0.999
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    signed.write_text(json.dumps(envelope))
    scan = attest(workspace, "scan", digest, "edited-scan.dsse.json")
    result = promote(context, MODEL_NAME, "1.0.0", "staging", workspace.requester(),
                     evidence=[signed, scan])  # fmt: skip
    assert {f.rule_id for f in result.findings} == {"SG-PROMO-020", "SG-PROMO-035", "SG-PROMO-032"}
    assert "does not verify" in result.facts["evidence"]["metrics"]["problem"]
