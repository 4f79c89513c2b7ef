"""A policy package may span several files of its folder; never several folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.errors import PolicyLoadError
from sealgate.policy._loader import load_policy_set

HEADER = """# METADATA
# title: Demo
# description: Demo policy.
# custom:
#   input: kubernetes
"""
RULE = """package acme.containers.demo

# METADATA
# title: Rule {n}
# description: Rule {n}.
# custom:
#   id: ACME-K8S-00{n}
#   severity: low
#   remediation: Fix it.
deny contains {{"id": "ACME-K8S-00{n}", "msg": "no", "path": []}} if input.bad == {n}
"""


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_files_of_one_folder_form_one_package(tmp_path: Path) -> None:
    _write(tmp_path, "data/x.yaml", "a: 1\n")
    _write(tmp_path, "containers/demo/policy.rego", HEADER + RULE.format(n=1))
    _write(tmp_path, "containers/demo/more.rego", RULE.format(n=2))
    policy_set = load_policy_set([tmp_path])
    package = policy_set.packages["acme.containers.demo"]
    assert sorted(package.rule_ids) == ["ACME-K8S-001", "ACME-K8S-002"]
    assert package.kinds == ("kubernetes",)
    assert package.file.endswith("containers/demo/policy.rego")
    assert sorted(Path(f).name for f in package.files) == ["more.rego", "policy.rego"]
    found = policy_set.engine().evaluate("acme.containers.demo.deny", {"bad": 2})
    assert [f["id"] for f in found] == ["ACME-K8S-002"]


def test_one_package_in_two_folders_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "data/x.yaml", "a: 1\n")
    _write(tmp_path, "containers/demo/policy.rego", HEADER + RULE.format(n=1))
    _write(tmp_path, "containers/other/policy.rego", RULE.format(n=2))
    with pytest.raises(PolicyLoadError, match=r"several folders.*one policy per folder"):
        load_policy_set([tmp_path])


def test_package_metadata_is_written_once(tmp_path: Path) -> None:
    _write(tmp_path, "data/x.yaml", "a: 1\n")
    _write(tmp_path, "containers/demo/policy.rego", HEADER + RULE.format(n=1))
    _write(tmp_path, "containers/demo/more.rego", HEADER + RULE.format(n=2))
    with pytest.raises(PolicyLoadError, match="already has METADATA"):
        load_policy_set([tmp_path])
