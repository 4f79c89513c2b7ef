"""One policy revision for one tree: the audit trail, the unseal decision log and the OPA
bundle name the same policies by the same digest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sealgate.errors import DeniedError
from sealgate.policy import builtin_policy_root
from sealgate.policy._bundle import build_bundle, verify_bundle
from sealgate.policy._loader import load_policy_set
from sealgate.policy._revision import policy_revision
from sealgate.promotion import open_registry
from sealgate.promotion._service import GateOptions, open_gate, push
from sealgate.runtime._authorization import build_authorizer
from sealgate.runtime._unseal import UnsealRequest
from sealgate.sealing import parse_identity
from sealgate.sealing._signing_keys import load_signing_private_key, parse_signing_public_key

from tests.promotion.conftest import MODEL_NAME, Workspace


def _audit_revision(workspace: Workspace, tree: Path, registry: Path) -> str:
    options = GateOptions(
        registry=f"file://{registry}",
        trust=workspace.path("release.pub"),
        gate_key=workspace.path("gate.key"),
        policies=(tree,),
    )
    assert push(open_gate(options), workspace.sealed("1.0.0"), "alice").allowed
    [line] = open_registry(options.registry).read_audit().splitlines()
    return json.loads(line)["policy_revision"]


def _decision_log_revision(workspace: Workspace, tree: Path) -> str:
    identity = parse_identity(f"local:{workspace.path('rcpt.key')}")
    log: list[str] = []
    authorize = build_authorizer(
        [identity],
        environment="prod",
        registry_url=None,
        policies=[tree],
        engine="embedded",
        opa_url=None,
        opa_push=False,
        log=log.append,
    )
    assert authorize is not None
    request = UnsealRequest(
        MODEL_NAME, "1.0.0", "sha256:" + "1" * 64, "00", "release", "ab" * 32,
        identity.type_name, identity.key_id, 1, 1, "/dev/shm/x",
    )  # fmt: skip
    with pytest.raises(DeniedError):  # no grant for this key: denied, and logged
        authorize(request)
    [line] = log
    return json.loads(line)["policy_revision"]


def _bundle_revision(workspace: Workspace, tree: Path, out: Path) -> str:
    built = build_bundle(
        load_policy_set([tree]), out, load_signing_private_key(workspace.path("gate.key")),
        key_id="gate",
    )  # fmt: skip
    public_key = parse_signing_public_key(
        workspace.path("gate.pub").read_bytes(), str(workspace.path("gate.pub"))
    )
    assert verify_bundle(out, public_key, key_id="gate").revision == built.revision
    return built.revision


def test_audit_trail_decision_log_and_bundle_agree_on_the_revision(
    workspace: Workspace, tmp_path: Path
) -> None:
    tree = builtin_policy_root()
    expected = policy_revision(load_policy_set([tree]))
    assert expected.startswith("sha256:") and len(expected) == len("sha256:") + 64
    assert _audit_revision(workspace, tree, tmp_path / "registry") == expected
    assert _decision_log_revision(workspace, tree) == expected
    assert _bundle_revision(workspace, tree, tmp_path / "bundle.tar.gz") == expected


def test_the_revision_names_content_not_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = policy_revision(load_policy_set([builtin_policy_root()]))
    copy = tmp_path / "elsewhere" / "policies"
    shutil.copytree(builtin_policy_root(), copy)
    monkeypatch.chdir(tmp_path / "elsewhere")  # other file names in the loaded modules
    assert policy_revision(load_policy_set([copy])) == original

    # A test changes no decision: same revision. A data value or a policy does: another.
    test_file = next(copy.rglob("*_test.rego"))
    test_file.write_text(test_file.read_text() + "\n# a comment in a test\n")
    assert policy_revision(load_policy_set([copy])) == original
    data_file = copy / "data" / "promotion.yaml"
    data_file.write_text(data_file.read_text() + "\nextra_setting: 1\n")
    changed_data = policy_revision(load_policy_set([copy]))
    assert changed_data != original
    policy_file = next(p for p in copy.rglob("policy.rego") if "promotion" in p.parts)
    policy_file.write_text(policy_file.read_text() + "\n# a comment in a policy\n")
    assert policy_revision(load_policy_set([copy])) not in {original, changed_data}
