"""Real-shaped ``pulumi preview --json`` files through the gate (tests/data/previews)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sealgate.errors import InputError
from sealgate.inputs._kinds import parse_file
from sealgate.inputs._preview_steps import SECRET_VALUE, UNKNOWN_VALUE
from sealgate.inputs._pulumi_plan import parse_pulumi_plan
from sealgate.policy._decision import GateResult
from sealgate.policy._engine import create_engine
from sealgate.policy._gate import run_gate
from sealgate.policy._loader import load_policy_set

REPO = Path(__file__).resolve().parents[2]
PREVIEWS = REPO / "tests" / "data" / "previews"
SHOW_SAMES = "pulumi preview --json --show-sames"


def preview(name: str) -> dict[str, Any]:
    return dict(json.loads((PREVIEWS / name).read_text(encoding="utf-8")))


def write(tmp_path: Path, plan: dict[str, Any]) -> Path:
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def gate() -> Callable[[Path], GateResult]:
    policy_set = load_policy_set([REPO / "policies"])
    engine = create_engine("embedded", policy_set)

    def run(path: Path) -> GateResult:
        return run_gate(policy_set, engine, parse_file("pulumi-plan", path), waivers_file=None)

    return run


def blocking(result: GateResult) -> list[str]:
    return sorted(f"{f.rule_id} {f.message}" for f in result.findings)


def test_first_preview_with_unknown_outputs_passes(gate: Callable[[Path], GateResult]) -> None:
    text = (PREVIEWS / "create.json").read_text(encoding="utf-8")
    assert UNKNOWN_VALUE in text  # ids of resources not created yet
    assert {s["op"] for s in preview("create.json")["steps"]} == {"create"}
    result = gate(PREVIEWS / "create.json")
    assert blocking(result) == [] and result.passed


def test_node_count_change_with_show_sames_passes(gate: Callable[[Path], GateResult]) -> None:
    ops = [s["op"] for s in preview("node-count-show-sames.json")["steps"]]
    assert ops.count("update") == 1 and ops.count("same") > 100
    result = gate(PREVIEWS / "node-count-show-sames.json")
    assert blocking(result) == [] and result.passed


def test_preview_without_unchanged_resources_is_an_input_error() -> None:
    path = PREVIEWS / "node-count.json"
    assert [s["op"] for s in preview("node-count.json")["steps"]] == ["same", "update"]
    with pytest.raises(InputError, match=f"run `{SHOW_SAMES}`"):
        parse_pulumi_plan("pulumi-plan", path)


def test_cli_exits_2_with_the_advice() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sealgate", "check", "--preview", str(PREVIEWS / "node-count.json")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "SG-GATE-004" in done.stdout and SHOW_SAMES in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_deletions_fail_with_the_rules_that_require_them(
    gate: Callable[[Path], GateResult],
) -> None:
    result = gate(PREVIEWS / "delete-show-sames.json")
    assert not result.passed
    assert blocking(result) == [
        "SG-AZ-016 container audit has no immutability (WORM) policy "
        "(this change deletes sealgate-prod-storage-audit-worm)",
        "SG-AZ-060 sealgate-prod-storage-account (azure-native:storage:StorageAccount) has no "
        "private endpoint (this change deletes sealgate-prod-storage-blob-pe)",
        "SG-AZ-070 sealgate-prod-keys-vault (azure-native:keyvault:Vault) has no diagnostic "
        "setting (this change deletes sealgate-prod-keys-vault-diagnostics)",
    ]
    # Each points at the step of the resource that lacks what the rule requires.
    lines = (PREVIEWS / "delete-show-sames.json").read_text(encoding="utf-8").splitlines()
    for finding, name in zip(
        sorted(result.findings, key=lambda f: f.rule_id),
        [
            "sealgate-prod-storage-audit",
            "sealgate-prod-storage-account",
            "sealgate-prod-keys-vault",
        ],
        strict=True,
    ):
        assert '"newState"' in lines[finding.line - 1]
        assert lines[finding.line].strip().endswith(f'::{name}",')


def _delete(plan: dict[str, Any], *names: str) -> dict[str, Any]:
    """The preview with the named resources (and their children) deleted instead of same."""
    changed = copy.deepcopy(plan)
    gone: set[str] = set()
    for step in changed["steps"]:
        state = step.get("newState") or {}
        if state.get("urn", "").split("::")[-1] in names or state.get("parent") in gone:
            gone.add(state["urn"])
            step["op"] = "delete"
            del step["newState"]
    assert len(gone) >= len(names)
    return changed


@pytest.mark.parametrize(
    ("deleted", "rule_id"),
    [
        ("sealgate-prod-keys-vault-diagnostics", "SG-AZ-070"),
        ("sealgate-prod-storage-blob-pe", "SG-AZ-060"),
        ("sealgate-prod-storage-audit-worm", "SG-AZ-016"),
        ("sealgate-prod-storage-witness-worm", "SG-AZ-016"),
        ("sealgate-prod-keys-vault-pe-dns", "SG-AZ-063"),
        ("sealgate-prod-keys-cmk-identity-storage-cmk", "SG-AZ-008"),
        ("sealgate-prod-api-inference-policy", "SG-AZ-051"),
    ],
)
def test_each_deletion_fails_with_its_named_rule(
    deleted: str, rule_id: str, gate: Callable[[Path], GateResult], tmp_path: Path
) -> None:
    result = gate(write(tmp_path, _delete(preview("node-count-show-sames.json"), deleted)))
    assert [f.rule_id for f in result.findings] == [rule_id]
    assert f"this change deletes {deleted}" in result.findings[0].message


def test_replacement_steps_count_once(gate: Callable[[Path], GateResult], tmp_path: Path) -> None:
    plan = preview("replace-show-sames.json")
    replaced = [s for s in plan["steps"] if s["op"] in ("replace", "create-replacement")]
    urn = replaced[0]["urn"]
    assert {s["urn"] for s in replaced} == {urn} and len(replaced) == 2
    assert any(s["op"] == "delete-replaced" and s["urn"] == urn for s in plan["steps"])
    inputs = parse_pulumi_plan("pulumi-plan", PREVIEWS / "replace-show-sames.json")
    assert [i.document.get("urn") for i in inputs].count(urn) == 1
    assert inputs[0].document["deleted"] == []  # the replaced resource is not a deletion
    assert gate(PREVIEWS / "replace-show-sames.json").passed
    ssh = {
        "name": "ssh",
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp",
        "priority": 100,
        "sourceAddressPrefix": "Internet",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "22",
    }
    for step in replaced:
        step["newState"]["inputs"].setdefault("securityRules", []).append(ssh)
    result = gate(write(tmp_path, plan))
    assert [f.rule_id for f in result.findings] == ["SG-AZ-061"]


def test_secrets_are_shown_as_placeholders_and_parse() -> None:
    plan = preview("node-count-show-sames.json")
    assert SECRET_VALUE in plan["config"].values()
    inputs = parse_pulumi_plan("pulumi-plan", PREVIEWS / "node-count-show-sames.json")
    provider = [i for i in inputs if i.document.get("type") == "pulumi:providers:kubernetes"]
    assert provider[0].document["inputs"]["kubeconfig"] == SECRET_VALUE


def test_urns_carry_the_full_parent_type_chain() -> None:
    urns = [s["urn"] for s in preview("create.json")["steps"]]
    worm = next(u for u in urns if u.endswith("::sealgate-prod-storage-audit-worm"))
    assert worm.split("::")[2] == (
        "sealgate:infra:ModelStorage$azure-native:storage:StorageAccount"
        "$azure-native:storage:BlobContainer$azure-native:storage:BlobContainerImmutabilityPolicy"
    )
