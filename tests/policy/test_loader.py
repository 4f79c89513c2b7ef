"""Loading fails early and precisely: syntax, Rego v0, unsafe variables, METADATA."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.errors import PolicyLoadError
from sealgate.policy._decision import Severity
from sealgate.policy._loader import load_policy_set

from tests.conftest import DEMO_POLICY

RULE_METADATA = """\
# METADATA
# title: Something is wrong
# description: Something is wrong with the input.
# custom:
#   id: SG-T-001
#   severity: high
#   remediation: Make it right.
"""

PACKAGE = """\
# METADATA
# title: T
# custom:
#   input: t
package sealgate.t.check

import rego.v1

"""


def write_policy(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "policies" / "t" / "check"
    folder.mkdir(parents=True)
    (folder / "policy.rego").write_text(body)
    return tmp_path / "policies"


def load_error(tmp_path: Path, body: str) -> str:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_set([write_policy(tmp_path, body)])
    return str(caught.value)


def test_catalogue_comes_from_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "policies" / "demo"
    folder.mkdir(parents=True)
    (folder / "policy.rego").write_text(DEMO_POLICY)
    policy_set = load_policy_set([tmp_path / "policies"])
    rule = policy_set.rules["SG-DEMO-001"]
    assert rule.title == "Container runs privileged"
    assert rule.severity is Severity.HIGH
    assert rule.remediation == "Set securityContext.privileged to false."
    assert rule.line == 16  # the line of the annotated `deny` rule
    assert [p.name for p in policy_set.packages_for("demo")] == ["sealgate.demo.privileged"]


def test_rego_v0_syntax_is_rejected_with_file_and_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, PACKAGE + RULE_METADATA + "deny[msg] {\n\tmsg := 1\n}\n")
    assert "policy.rego:16:" in message
    assert "`if` keyword is required" in message


def test_unsafe_variable_is_rejected_at_load_time(tmp_path: Path) -> None:
    body = (
        PACKAGE
        + RULE_METADATA
        + 'deny contains f if {\n\tinput.x == y\n\tf := {"id": "SG-T-001"}\n}\n'
    )
    message = load_error(tmp_path, body)
    assert "policy.rego:17:" in message
    assert "`y` is unsafe" in message


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, PACKAGE + "allow if {\n\tinput.x ==\n}\n")
    assert "policy.rego:11:" in message  # where the missing operand was expected


def test_deny_without_metadata_is_rejected(tmp_path: Path) -> None:
    message = load_error(tmp_path, PACKAGE + 'deny contains "x" if input.bad\n')
    assert "policy.rego:9:" in message and "needs METADATA" in message


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("#   severity: high\n", "#   severity: urgent\n", "severity 'urgent' is not one of"),
        ("#   remediation: Make it right.\n", "", "lacks custom.remediation"),
        ("#   id: SG-T-001\n", "#   id: t1\n", "must look like PREFIX-DOMAIN-NNN"),
        ("# title: Something is wrong\n", "", "lacks title"),
    ],
)
def test_incomplete_rule_metadata_is_rejected(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    metadata = RULE_METADATA.replace(replace, by)
    message = load_error(tmp_path, PACKAGE + metadata + 'deny contains "x" if input.bad\n')
    assert expected in message


def test_package_must_name_its_input_kind(tmp_path: Path) -> None:
    body = (
        "package sealgate.t.check\n\nimport rego.v1\n\n"
        + RULE_METADATA
        + 'deny contains "x" if input.bad\n'
    )
    assert "names no input kind" in load_error(tmp_path, body)


def test_duplicate_rule_ids_are_rejected(tmp_path: Path) -> None:
    rule = RULE_METADATA + 'deny contains "x" if input.bad\n\n'
    assert "already used" in load_error(
        tmp_path, PACKAGE + rule + rule.replace("input.bad", "input.worse")
    )


def test_malformed_metadata_yaml_is_rejected(tmp_path: Path) -> None:
    body = PACKAGE + "# METADATA\n# title: [unclosed\n" + 'deny contains "x" if input.bad\n'
    assert "METADATA is not valid YAML" in load_error(tmp_path, body)


def test_repository_policies_load() -> None:
    policy_set = load_policy_set([Path("policies")])
    assert "sealgate.gate.waivers" in policy_set.packages
    assert all(rule.id.startswith("SG-") for rule in policy_set.rules.values())
