"""The scan signed into a seal decides promotion: a PyTorch checkpoint whose pickle calls
os.system is sealed with that finding in its header and refused by prod; the same model
without it goes through dev, staging and prod (the built-in stage data, prod's KEK set)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml
from sealgate.policy import builtin_policy_root
from sealgate.promotion import sealed_model_digest
from sealgate.promotion._approvals import create_approval
from sealgate.promotion._gate import PromotionResult
from sealgate.promotion._request import PromotionRequest
from sealgate.promotion._service import open_gate, promote, push
from sealgate.sealing import SealOptions, load_signing_private_key, parse_recipient, seal_model
from sealgate.sealing import _envelope as envelope
from sealgate.sealing._header import HEADER_FILE, PAYLOAD_TYPE, parse_header

from tests.promotion.conftest import MODEL_NAME, RegistryTarget, Workspace, gate_options
from tests.promotion.test_promotion_cli import write_evidence
from tests.scanning.builders import TORCH_STATE_DICT, malicious_pickle, torch_checkpoint

VERSION = "4.0.0"


def _seal(workspace: Workspace, tmp_path: Path, checkpoint: bytes, tag: str) -> Path:
    model = tmp_path / f"model-{tag}"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["Ranker"]}\n')
    (model / "pytorch_model.bin").write_bytes(checkpoint)
    out = tmp_path / f"sealed-{tag}"
    seal_model(
        model,
        out,
        name=MODEL_NAME,
        version=VERSION,
        signing_key=load_signing_private_key(workspace.path("release.key")),
        recipients=[parse_recipient(f"local:{workspace.path('rcpt.pub')}")],
        options=SealOptions(chunk_size=1024, workers=1),
    )
    return out


def _header(sealed: Path):  # type: ignore[no-untyped-def]
    opened = envelope.open_envelope((sealed / HEADER_FILE).read_bytes(), PAYLOAD_TYPE)
    return parse_header(opened.payload)


def _policies(tmp_path: Path, workspace: Workspace, **staging: object) -> tuple[Path, ...]:
    """The built-in policies with prod's KEK set (and staging's model_scan replaced)."""
    data = yaml.safe_load((workspace.kek_policies / "data" / "promotion.yaml").read_text())
    for stage in data["stages"]:
        if stage["name"] == "staging" and staging:
            stage["model_scan"] = staging
    folder = tmp_path / "policies"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "promotion.yaml").write_text(yaml.safe_dump(data))
    return (builtin_policy_root(), folder)


def _through(
    workspace: Workspace, target: RegistryTarget, sealed: Path, policies: tuple[Path, ...]
) -> dict[str, PromotionResult]:
    """Push ``sealed`` to dev, then promote to staging and prod while each stage allows."""
    context = open_gate(gate_options(workspace, target.url, policies=policies))
    digest = sealed_model_digest(sealed)
    results = {"dev": push(context, sealed, "release-ci")}
    evidence = [
        workspace.path(p) for p in write_evidence(workspace, digest, f"scan-{digest[7:15]}")
    ]
    for source, stage, approvers in (("dev", "staging", 1), ("staging", "prod", 2)):
        if not results[source].allowed:
            break
        request = PromotionRequest(
            MODEL_NAME, VERSION, digest, source, stage, workspace.identity("dave")
        )
        approvals = []
        for who in ("bob", "carol")[:approvers]:
            path = workspace.path(f"scan-{digest[7:15]}-{who}-{stage}.approval.json")
            path.write_bytes(
                create_approval(request, load_signing_private_key(workspace.path(f"{who}.key")))
            )
            approvals.append(path)
        results[stage] = promote(
            context, MODEL_NAME, VERSION, stage, workspace.requester(),
            approvals=approvals, evidence=evidence if stage == "prod" else evidence[:2],
        )  # fmt: skip
    return results


def test_a_pickle_calling_os_system_is_sealed_with_its_finding_and_refused_by_prod(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    sealed = _seal(workspace, tmp_path, torch_checkpoint(malicious_pickle()), "evil")
    scan = _header(sealed).scan
    assert scan is not None and scan.scanner == "picklescan"
    by_path = {f.path: f for f in scan.files}
    assert by_path["pytorch_model.bin"].format == "pytorch"
    [found] = by_path["pytorch_model.bin"].findings
    assert (found.id, found.severity, found.unsafe) == ("pickle-unsafe-global", "critical", True)
    assert "posix.system" in found.message
    assert by_path["config.json"].findings == ()

    # staging relaxed to dev's setting, so that only prod's decision is left to show
    policies = _policies(tmp_path, workspace, required=True, deny_unsafe=False, deny_severities=[])
    results = _through(workspace, file_registry, sealed, policies)
    assert results["dev"].allowed and results["staging"].allowed, results["staging"].reasons
    facts = results["dev"].facts["model"]["scan"]
    assert facts["present"] and facts["unsafe"] and facts["counts"]["critical"] == 1
    prod = results["prod"]
    assert {f.rule_id for f in prod.findings} == {"SG-PROMO-061"}, prod.reasons
    assert "pytorch_model.bin (pytorch)" in prod.reasons[0] and "posix.system" in prod.reasons[0]
    assert file_registry.open().current("prod", MODEL_NAME) is None


def test_the_same_model_without_the_pickle_payload_reaches_prod(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    sealed = _seal(workspace, tmp_path, torch_checkpoint(TORCH_STATE_DICT), "clean")
    scan = _header(sealed).scan
    assert scan is not None and not scan.findings
    results = _through(workspace, file_registry, sealed, _policies(tmp_path, workspace))
    assert all(r.allowed for r in results.values()), {s: r.reasons for s, r in results.items()}
    pointer = file_registry.open().current("prod", MODEL_NAME)
    assert pointer is not None and pointer.digest == sealed_model_digest(sealed)


def test_staging_refuses_the_critical_finding_with_the_built_in_data(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    sealed = _seal(workspace, tmp_path, torch_checkpoint(malicious_pickle()), "evil")
    results = _through(workspace, file_registry, sealed, _policies(tmp_path, workspace))
    assert results["dev"].allowed  # dev only reports
    assert {f.rule_id for f in results["staging"].findings} == {"SG-PROMO-062"}


def test_a_model_sealed_before_scanning_is_refused_by_prod_with_a_clear_finding(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    """A header without the scan field (as every seal made before scanning has), re-signed by
    the release key: it still verifies, and prod says why it refuses it."""
    sealed = _seal(workspace, tmp_path, torch_checkpoint(TORCH_STATE_DICT), "old")
    header = dataclasses.replace(_header(sealed), scan=None)
    assert b'"scan"' not in header.to_payload()
    key = load_signing_private_key(workspace.path("release.key"))
    (sealed / HEADER_FILE).chmod(0o644)
    (sealed / HEADER_FILE).write_bytes(
        envelope.sign_envelope(PAYLOAD_TYPE, header.to_payload(), key)
    )
    policies = _policies(tmp_path, workspace, required=False, deny_unsafe=False, deny_severities=[])
    results = _through(workspace, file_registry, sealed, policies)
    assert results["dev"].allowed and results["staging"].allowed, results["staging"].reasons
    assert results["dev"].facts["model"]["scan"] == json.loads(
        '{"present": false, "files": [], "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0}}'
    )
    prod = results["prod"]
    assert {f.rule_id for f in prod.findings} == {"SG-PROMO-060"}, prod.reasons
    assert "has no signed scan" in prod.reasons[0]
