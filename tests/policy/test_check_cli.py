"""`sealgate check` end to end: exit codes, waivers, and every report format."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from junitparser import JUnitXml
from sealgate import __version__

from tests.conftest import PLAIN_POD, PRIVILEGED_POD, REPO, Run

SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
PRIVILEGED_LINE = PRIVILEGED_POD.splitlines().index("        privileged: true") + 1

Sealgate = Callable[..., Run]


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def write_waiver(
    workspace: Path, *, rule: str = "SG-DEMO-001", target: str = "pod.yaml", expires: str
) -> None:
    (workspace / "policies" / "data" / "waivers.yaml").write_text(
        "waivers:\n"
        f"  - rule: {rule}\n"
        f"    target: {target}\n"
        "    owner: platform@example.com\n"
        "    reason: the fix ships with the next release\n"
        f"    expires: {expires}\n"
    )


@pytest.fixture
def workspace(policy_workspace: Path) -> Path:
    (policy_workspace / "pod.yaml").write_text(PRIVILEGED_POD)
    (policy_workspace / "plain.yaml").write_text(PLAIN_POD)
    return policy_workspace


def test_privileged_pod_is_denied_with_sarif_on_the_offending_line(
    workspace: Path, sealgate: Sealgate
) -> None:
    run = sealgate("check", "--kind", "demo", "pod.yaml", "--format", "sarif", cwd=workspace)
    assert run.code == 1, run.stderr
    sarif = json.loads(run.stdout)
    jsonschema.validate(sarif, SARIF_SCHEMA)
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "SG-DEMO-001"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "pod.yaml", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == PRIVILEGED_LINE
    driver = sarif["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://github.com/sealgate/sealgate"
    assert driver["semanticVersion"] == driver["version"] == __version__
    rules = {r["id"]: r for r in driver["rules"]}
    assert rules["SG-DEMO-001"]["name"] == "ContainerRunsPrivileged"
    assert rules["SG-DEMO-001"]["help"]["text"] == "Set securityContext.privileged to false."
    assert rules["SG-DEMO-001"]["properties"]["security-severity"] == "8.0"
    names = [r["name"] for r in driver["rules"]]
    assert len(names) == len(set(names))


def test_clean_file_passes(workspace: Path, sealgate: Sealgate) -> None:
    run = sealgate("check", "--kind", "demo", "plain.yaml", cwd=workspace)
    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("PASS: 0 blocking findings in 2 inputs (embedded engine)")


def test_junit_names_file_and_line(workspace: Path, sealgate: Sealgate) -> None:
    out = workspace / "reports" / "junit.xml"
    run = sealgate(
        "check",
        "--kind",
        "demo",
        "pod.yaml",
        "plain.yaml",
        "--format",
        "junit",
        "--output",
        str(out),
        cwd=workspace,
    )
    assert run.code == 1
    xml = JUnitXml.fromfile(str(out))
    cases = {(suite.name, case.name): case for suite in xml for case in suite}
    names = [name for _, name in cases]
    assert len(names) == len(set(names))
    failing = cases[
        (
            "sealgate.demo.privileged",
            "pod.yaml SG-DEMO-001 spec.containers[0].securityContext.privileged",
        )
    ]
    assert failing._elem.get("file") == "pod.yaml"
    assert failing._elem.get("line") == str(PRIVILEGED_LINE)
    assert f"pod.yaml:{PRIVILEGED_LINE}:" in failing.result[0].text
    assert cases[("sealgate.demo.privileged", "plain.yaml")].is_passed
    assert xml.failures == 1


def test_valid_waiver_suppresses_but_still_reports(workspace: Path, sealgate: Sealgate) -> None:
    write_waiver(workspace, expires=in_days(30))
    run = sealgate(
        "check",
        "--kind",
        "demo",
        "pod.yaml",
        "--format",
        "sarif",
        "--output",
        "out.sarif",
        "--format",
        "text",
        cwd=workspace,
    )
    assert run.code == 0, run.stdout
    assert "waived SG-DEMO-001" in run.stdout and "1 suppressed by waivers" in run.stdout
    sarif = json.loads((workspace / "out.sarif").read_text())
    jsonschema.validate(sarif, SARIF_SCHEMA)
    [result] = sarif["runs"][0]["results"]
    [suppression] = result["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert "platform@example.com" in suppression["justification"]


def test_expired_waiver_fails_the_gate_and_suppresses_nothing(
    workspace: Path, sealgate: Sealgate
) -> None:
    write_waiver(workspace, expires=in_days(-1))
    run = sealgate("check", "--kind", "demo", "pod.yaml", "--format", "json", cwd=workspace)
    assert run.code == 1
    findings = {f["id"]: f for f in json.loads(run.stdout)["findings"]}
    assert findings["SG-WAIVER-004"]["file"] == "policies/data/waivers.yaml"
    assert findings["SG-WAIVER-004"]["line"] == 6  # the `expires:` line
    assert findings["SG-DEMO-001"]["suppressed"] is False


def test_waiver_beyond_90_days_fails(workspace: Path, sealgate: Sealgate) -> None:
    write_waiver(workspace, expires=in_days(91))
    run = sealgate("check", "--kind", "demo", "pod.yaml", cwd=workspace)
    assert run.code == 1 and "SG-WAIVER-005" in run.stdout


def test_waiver_matching_nothing_is_reported_stale(workspace: Path, sealgate: Sealgate) -> None:
    write_waiver(workspace, target="elsewhere.yaml", expires=in_days(10))
    run = sealgate("check", "--kind", "demo", "plain.yaml", "--format", "json", cwd=workspace)
    assert run.code == 0
    [stale] = json.loads(run.stdout)["findings"]
    assert stale["id"] == "SG-GATE-005" and stale["blocking"] is False
    assert "elsewhere.yaml" in stale["message"]


def test_unparsable_waivers_file_is_an_input_error(workspace: Path, sealgate: Sealgate) -> None:
    (workspace / "policies" / "data" / "waivers.yaml").write_text("waivers: [\n")
    run = sealgate("check", "--kind", "demo", "plain.yaml", cwd=workspace)
    assert run.code == 2
    assert "SG-GATE-004" in run.stdout


def test_unparsable_input_is_reported_and_exits_2(workspace: Path, sealgate: Sealgate) -> None:
    (workspace / "broken.yaml").write_text("spec:\n  containers: [\n")
    run = sealgate(
        "check", "--kind", "demo", "broken.yaml", "pod.yaml", "--format", "json", cwd=workspace
    )
    assert run.code == 2
    report = json.loads(run.stdout)
    ids = {f["id"] for f in report["findings"]}
    assert ids == {"SG-GATE-004", "SG-DEMO-001"}  # the rest of the run is still reported


def test_markdown_and_github_formats(workspace: Path, sealgate: Sealgate) -> None:
    run = sealgate(
        "check",
        "--kind",
        "demo",
        "pod.yaml",
        "--format",
        "markdown",
        "--output",
        "comment.md",
        "--format",
        "github",
        cwd=workspace,
    )
    assert run.code == 1
    comment = (workspace / "comment.md").read_text()
    assert comment.startswith("### sealgate gate failed")
    assert (
        f"| high | `SG-DEMO-001` Container runs privileged | `pod.yaml:{PRIVILEGED_LINE}` |"
        in comment
    )
    assert (
        f"::error file=pod.yaml,line={PRIVILEGED_LINE},title=SG-DEMO-001 Container runs privileged::"
        "container server runs privileged"
    ) in run.stdout


def test_usage_errors_exit_2_without_traceback(workspace: Path, sealgate: Sealgate) -> None:
    for args in (
        ["check", "--format", "sarif", "--format", "json"],
        ["check", "--format", "yaml"],
        ["check", "missing.yaml"],
        ["check", "--kind", "nope", "pod.yaml"],
        ["check", "--engine", "opa"],
        ["check", "--policies", "nowhere"],
    ):
        run = sealgate(*args, cwd=workspace)
        assert run.code == 2, (args, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr
        assert run.stderr.strip(), args


def test_policy_load_error_is_one_line(workspace: Path, sealgate: Sealgate) -> None:
    policy = workspace / "policies" / "demo" / "privileged" / "policy.rego"
    policy.write_text(policy.read_text().replace("if {", "{", 1))
    run = sealgate("check", "--kind", "demo", "pod.yaml", cwd=workspace)
    assert run.code == 2
    [line] = run.stderr.strip().splitlines()
    assert "policies/demo/privileged/policy.rego:16:" in line and "`if` keyword is required" in line


def test_fail_on_threshold(workspace: Path, sealgate: Sealgate) -> None:
    run = sealgate("check", "--kind", "demo", "pod.yaml", "--fail-on", "critical", cwd=workspace)
    assert run.code == 0
    assert "high SG-DEMO-001" in run.stdout
