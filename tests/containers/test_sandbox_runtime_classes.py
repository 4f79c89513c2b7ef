"""SG-K8S-030's accepted sandbox runtime classes come from policy data, for the gate and for
Gatekeeper: Kata by default, gVisor's class only where a cluster's own data lists it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import REPO, run_sealgate

DEPLOYMENT = REPO / "images" / "model-server" / "deployment.yaml"
WITH_GVISOR = "kubernetes:\n  model_server_runtime_classes: [kata-vm-isolation, gvisor]\n"
ONLY_GVISOR = "kubernetes:\n  model_server_runtime_classes: [gvisor]\n"


def _deployment(tmp_path: Path, runtime_class: str) -> Path:
    text = DEPLOYMENT.read_text()
    assert text.count("runtimeClassName: kata-vm-isolation") == 1
    target = tmp_path / "manifests" / "deployment.yaml"
    target.parent.mkdir()
    target.write_text(text.replace("kata-vm-isolation", runtime_class))
    return target


def _data(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "acme" / "data"
    folder.mkdir(parents=True)
    (folder / "containers.yaml").write_text(text)
    return folder / "containers.yaml"


def _ids(stdout: str) -> set[str]:
    return {f["id"] for f in json.loads(stdout)["findings"]}


def test_gvisor_is_denied_by_default_and_accepted_where_the_data_lists_it(tmp_path: Path) -> None:
    manifest = _deployment(tmp_path, "gvisor")
    default = run_sealgate("check", str(manifest), "--format", "json", cwd=REPO)
    assert default.code == 1, default.stderr
    assert _ids(default.stdout) == {"SG-K8S-030"}

    data = _data(tmp_path, WITH_GVISOR)
    configured = run_sealgate(
        "check", str(manifest), "--data", str(data), "--format", "json", cwd=REPO
    )
    assert configured.code == 0, configured.stdout + configured.stderr


def test_kata_is_denied_where_the_data_replaces_the_list(tmp_path: Path) -> None:
    manifest = _deployment(tmp_path, "kata-vm-isolation")
    data = _data(tmp_path, ONLY_GVISOR)
    run = run_sealgate("check", str(manifest), "--data", str(data), "--format", "json", cwd=REPO)
    assert run.code == 1, run.stderr
    assert _ids(run.stdout) == {"SG-K8S-030"}


def test_a_wrong_runtime_class_is_denied_even_with_gvisor_configured(tmp_path: Path) -> None:
    manifest = _deployment(tmp_path, "runc")
    data = _data(tmp_path, WITH_GVISOR)
    run = run_sealgate("check", str(manifest), "--data", str(data), "--format", "json", cwd=REPO)
    assert run.code == 1, run.stderr
    messages = [f["message"] for f in json.loads(run.stdout)["findings"] if f["id"] == "SG-K8S-030"]
    assert messages == [
        'model server does not run in an accepted sandbox runtime class ["gvisor", '
        '"kata-vm-isolation"] (runtimeClassName: runc)'
    ]


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def _inlined_classes(out: Path) -> list[str]:
    """The runtime classes inlined into the exported model server template's Rego modules."""
    template = yaml.safe_load((out / "templates" / "sealgatek8smodelserver.yaml").read_text())
    key = '"model_server_runtime_classes": ['
    for module in _strings(template):
        start = module.find(key)
        if start >= 0:
            opening = start + len(key) - 1
            classes: list[str] = json.loads(module[opening : module.index("]", opening) + 1])
            return classes
    raise AssertionError("no inlined model_server_runtime_classes in the template")


def test_gatekeeper_templates_carry_the_configured_classes(tmp_path: Path) -> None:
    default = run_sealgate(
        "policy", "export-gatekeeper", "--out", str(tmp_path / "default"), "policies/", cwd=REPO
    )
    assert default.code == 0, default.stderr
    assert _inlined_classes(tmp_path / "default") == ["kata-vm-isolation"]

    _data(tmp_path, WITH_GVISOR)
    configured = run_sealgate(
        "policy", "export-gatekeeper", "--out", str(tmp_path / "acme-out"), "policies/",
        str(tmp_path / "acme"), cwd=REPO,
    )  # fmt: skip
    assert configured.code == 0, configured.stderr
    assert _inlined_classes(tmp_path / "acme-out") == ["kata-vm-isolation", "gvisor"]
