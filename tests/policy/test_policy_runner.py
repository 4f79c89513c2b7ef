"""`sealgate policy test`: opa-test semantics, samples, conventions and coverage."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO, Run

Sealgate = Callable[..., Run]
CLOSING = re.compile(r"^(\d+) passed, (\d+) failed$")


def closing(run: Run) -> tuple[int, int]:
    match = CLOSING.match(run.stdout.strip().splitlines()[-1])
    assert match, run.stdout
    return int(match.group(1)), int(match.group(2))


def test_repository_policies_pass_with_coverage(sealgate: Sealgate) -> None:
    run = sealgate("policy", "test", "policies/", "--coverage-min", "90", cwd=REPO)
    assert run.code == 0, run.stdout + run.stderr
    passed, failed = closing(run)
    assert passed > 0 and failed == 0
    assert re.search(
        r"^\s+\d+\.\d%\s+policies/sealgate/gate/waivers/policy\.rego \(\d+/\d+ lines\)$",
        run.stdout,
        re.M,
    )


def test_workspace_policies_pass(policy_workspace: Path, sealgate: Sealgate) -> None:
    run = sealgate("policy", "test", "policies", "-v", cwd=policy_workspace)
    assert run.code == 0, run.stdout
    assert (
        "PASS policies/demo/privileged/policy_test.rego:7: data.sealgate.demo.privileged_test.test_privileged_container_is_denied"
        in run.stdout
    )


def test_broken_test_fails_and_names_its_file(policy_workspace: Path, sealgate: Sealgate) -> None:
    test_file = policy_workspace / "policies" / "demo" / "privileged" / "policy_test.rego"
    test_file.write_text(
        test_file.read_text().replace('f.id == "SG-DEMO-001"', 'f.id == "SG-DEMO-002"')
    )
    run = sealgate("policy", "test", "policies", cwd=policy_workspace)
    assert run.code == 1
    assert (
        "FAIL policies/demo/privileged/policy_test.rego:7: "
        "data.sealgate.demo.privileged_test.test_privileged_container_is_denied: evaluated to undefined"
    ) in run.stdout
    assert closing(run)[1] == 1


def test_runtime_error_in_a_test_fails_it(policy_workspace: Path, sealgate: Sealgate) -> None:
    test_file = policy_workspace / "policies" / "demo" / "privileged" / "policy_test.rego"
    test_file.write_text(test_file.read_text() + '\ntest_crashes if {\n\tto_number("x") == 1\n}\n')
    run = sealgate("policy", "test", "policies", cwd=policy_workspace)
    assert run.code == 1
    assert "test_crashes: error:" in run.stdout and "could not parse string as number" in run.stdout


def test_todo_tests_are_skipped(policy_workspace: Path, sealgate: Sealgate) -> None:
    test_file = policy_workspace / "policies" / "demo" / "privileged" / "policy_test.rego"
    test_file.write_text(test_file.read_text() + "\ntodo_test_later if {\n\tfalse\n}\n")
    assert sealgate("policy", "test", "policies", cwd=policy_workspace).code == 0


def test_sample_with_wrong_expectation_fails(policy_workspace: Path, sealgate: Sealgate) -> None:
    suite = policy_workspace / "policies" / "demo" / "privileged" / "samples" / "suite.yaml"
    suite.write_text(suite.read_text().replace("expect: []", "expect: [SG-DEMO-001]"))
    run = sealgate("policy", "test", "policies", cwd=policy_workspace)
    assert run.code == 1
    assert "sample allowed/plain.yaml: expected ['SG-DEMO-001'], got none" in run.stdout


def test_rule_without_denied_sample_fails(policy_workspace: Path, sealgate: Sealgate) -> None:
    suite = policy_workspace / "policies" / "demo" / "privileged" / "samples" / "suite.yaml"
    suite.write_text("cases:\n  - input: allowed/plain.yaml\n    expect: []\n")
    run = sealgate("policy", "test", "policies", cwd=policy_workspace)
    assert run.code == 1
    assert "no denied sample yields SG-DEMO-001" in run.stdout


def test_policy_without_tests_or_samples_fails(policy_workspace: Path, sealgate: Sealgate) -> None:
    folder = policy_workspace / "policies" / "demo" / "privileged"
    (folder / "policy_test.rego").unlink()
    (folder / "samples" / "suite.yaml").unlink()
    run = sealgate("policy", "test", "policies", cwd=policy_workspace)
    assert run.code == 1
    assert "sealgate.demo.privileged has tests: no *_test.rego" in run.stdout
    assert "sealgate.demo.privileged has samples: no" in run.stdout
    # Untested lines count as uncovered, not as a file with nothing to cover.
    assert re.search(
        r"^\s+0\.0%\s+policies/demo/privileged/policy\.rego \(0/[1-9]\d* lines\)$", run.stdout, re.M
    )


def test_coverage_minimum_is_enforced(policy_workspace: Path, sealgate: Sealgate) -> None:
    policy = policy_workspace / "policies" / "demo" / "privileged" / "policy.rego"
    policy.write_text(policy.read_text() + "\nunused_helper(x) := y if {\n\ty := x * 2\n}\n")
    run = sealgate("policy", "test", "policies", "--coverage-min", "100", cwd=policy_workspace)
    assert run.code == 1
    assert "is below --coverage-min 100%" in run.stdout
