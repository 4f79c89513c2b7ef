"""`--policies DIR` adds folders to the built-in policies; without it the built-in ones decide."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.promotion.conftest import RegistryTarget, Workspace, make_cli, snapshot

FREEZE_POLICY = """\
# METADATA
# title: Release freeze
# custom:
#   input: promotion
package acme.promotion.{name}

import rego.v1

# METADATA
# title: Releases are frozen
# description: No model moves while the freeze holds.
# custom:
#   id: {rule_id}
#   severity: high
#   remediation: Wait for the freeze to end.
deny contains finding if {{
	input.request.to != ""
	finding := {{
		"id": "{rule_id}",
		"msg": "release freeze ({name})",
		"severity": "high",
		"path": ["request", "to"],
	}}
}}
"""


def _freeze(root: Path, name: str, rule_id: str) -> Path:
    folder = root / name
    (folder / "promotion" / name).mkdir(parents=True)
    (folder / "promotion" / name / "policy.rego").write_text(
        FREEZE_POLICY.format(name=name, rule_id=rule_id)
    )
    return folder


def test_the_built_in_policies_decide_without_any_policies_folder(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    assert not (workspace.root / "policies").exists()  # nothing to find in the working dir
    run = make_cli(workspace, file_registry)("push", "sealed-1.0.0", "--trust", "release.pub")
    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout.startswith("allowed: ")


def test_a_policies_folder_adds_its_policies_to_the_built_in_ones(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    freeze = _freeze(tmp_path, "freeze", "SG-ACME-001")
    cli = make_cli(workspace, file_registry)
    run = cli("push", "sealed-1.0.0", "--trust", "release.pub", "--policies", str(freeze), "--json")
    assert run.code == 1, run.stdout + run.stderr
    assert json.loads(run.stdout)["reasons"] == ["SG-ACME-001: release freeze (freeze)"]
    assert snapshot(file_registry) == ()
    # The built-in policies still decide beside it: a model signed by an untrusted key is
    # denied by the built-in provenance rules as well as by the freeze.
    rogue = cli(
        "push", "sealed-1.2.0-rogue", "--trust", "release.pub", "--policies", str(freeze), "--json"
    )  # fmt: skip
    reasons = json.loads(rogue.stdout)["reasons"]
    assert "SG-ACME-001: release freeze (freeze)" in reasons
    assert any(r.startswith("SG-PROMO-") for r in reasons), reasons


def test_the_environment_variable_names_several_folders(
    workspace: Workspace, file_registry: RegistryTarget, tmp_path: Path
) -> None:
    first = _freeze(tmp_path, "freeze", "SG-ACME-001")
    second = _freeze(tmp_path, "audit", "SG-ACME-002")
    run = make_cli(workspace, file_registry)(
        "push", "sealed-1.0.0", "--trust", "release.pub", "--json",
        SEALGATE_POLICIES=f"{first}{os.pathsep}{second}{os.pathsep}",
    )  # fmt: skip
    assert run.code == 1, run.stdout + run.stderr
    assert sorted(json.loads(run.stdout)["reasons"]) == [
        "SG-ACME-001: release freeze (freeze)",
        "SG-ACME-002: release freeze (audit)",
    ]


def test_a_missing_policies_folder_is_a_usage_error(
    workspace: Workspace, file_registry: RegistryTarget
) -> None:
    run = make_cli(workspace, file_registry)(
        "push", "sealed-1.0.0", "--trust", "release.pub", "--policies", "no-such-folder"
    )  # fmt: skip
    assert run.code == 2
    assert "'no-such-folder' does not exist" in run.stderr and "Traceback" not in run.stderr
    assert snapshot(file_registry) == ()
