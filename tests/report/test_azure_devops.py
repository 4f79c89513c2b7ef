"""`--format azuredevops`: Azure Pipelines logging commands, read back the way the agent reads them."""

from __future__ import annotations

from sealgate.policy._decision import Finding, GateResult, RuleInfo, Severity, Waiver
from sealgate.report import render

BLOCKING_MESSAGE = 'container "a;b]" uses 100% CPU\nsecond line\r\nthird %3B %AZP25'
WARNING_MESSAGE = "apt; ok] 50%"


def rule(rule_id: str, severity: Severity) -> RuleInfo:
    return RuleInfo(rule_id, f"Rule {rule_id}", severity, "", "", "test.pkg", "policy.rego", 1)


def result_with(*findings: Finding, fail_on: Severity = Severity.MEDIUM) -> GateResult:
    rules = {
        r.id: r
        for r in (
            rule("SG-T-001", Severity.HIGH),
            rule("SG-T-002", Severity.LOW),
            rule("SG-T-003", Severity.MEDIUM),
        )
    }
    return GateResult(rules=rules, findings=list(findings), inputs_evaluated=3, fail_on=fail_on)


BLOCKING = Finding("SG-T-001", BLOCKING_MESSAGE, Severity.HIGH, "t", "deploy/pod;1].yaml", 7)
BELOW_THRESHOLD = Finding("SG-T-002", WARNING_MESSAGE, Severity.LOW, "Dockerfile", "Dockerfile", 3)
WAIVED = Finding(
    "SG-T-003",
    "waived; not an issue",
    Severity.MEDIUM,
    "app.yaml",
    "app.yaml",
    9,
    waiver=Waiver("SG-T-003", "app.yaml", "team@example.com", "fix in progress", "2030-01-01", 2),
)


def agent_unescape(value: str) -> str:
    """The agent's Unescape (CommandStringConvertor.cs): the four reserved values, then `%`."""
    for token, replacement in (
        (";", "%3B"),
        ("\r", "%0D"),
        ("\n", "%0A"),
        ("]", "%5D"),
    ):
        value = value.replace(replacement, token)
    return value.replace("%AZP25", "%")


def agent_parse(line: str) -> tuple[str, dict[str, str], str]:
    """The agent's command parser: `##vso[area.action k=v;...]data`, properties up to the first `]`."""
    prefix = "##vso["
    start = line.index(prefix) + len(prefix)
    end = line.index("]", start)
    info = line[start:end]
    name, _, listed = info.partition(" ")
    properties = {}
    for pair in filter(None, listed.split(";")):
        key, _, value = pair.partition("=")
        properties[key] = agent_unescape(value)
    return name, properties, agent_unescape(line[end + 1 :])


def test_blocking_warning_and_waived_findings_give_these_exact_lines() -> None:
    out = render("azuredevops", result_with(BLOCKING, BELOW_THRESHOLD, WAIVED))
    assert out.splitlines() == [
        "##vso[task.logissue type=error;sourcepath=deploy/pod%3B1%5D.yaml;linenumber=7;"
        'columnnumber=1;code=SG-T-001]container "a%3Bb%5D" uses 100%AZP25 CPU%0Asecond line'
        "%0D%0Athird %AZP253B %AZP25AZP25",
        "##vso[task.logissue type=warning;sourcepath=Dockerfile;linenumber=3;columnnumber=1;"
        "code=SG-T-002]apt%3B ok%5D 50%AZP25",
        "FAIL: 1 blocking finding, 1 below fail-on medium, 1 suppressed by waivers in 3 inputs"
        " (embedded engine)",
        "##vso[task.complete result=Failed;]",
    ]
    assert out.endswith("\n")


def test_the_agent_reads_back_every_original_value() -> None:
    out = render("azuredevops", result_with(BLOCKING, BELOW_THRESHOLD, WAIVED))
    issues = [agent_parse(line) for line in out.splitlines() if "task.logissue" in line]
    assert issues == [
        (
            "task.logissue",
            {
                "type": "error",
                "sourcepath": "deploy/pod;1].yaml",
                "linenumber": "7",
                "columnnumber": "1",
                "code": "SG-T-001",
            },
            BLOCKING_MESSAGE,
        ),
        (
            "task.logissue",
            {
                "type": "warning",
                "sourcepath": "Dockerfile",
                "linenumber": "3",
                "columnnumber": "1",
                "code": "SG-T-002",
            },
            WARNING_MESSAGE,
        ),
    ]


def test_a_message_cannot_start_a_command_of_its_own() -> None:
    sneaky = Finding(
        "SG-T-001",
        "x\n##vso[task.complete result=Succeeded;]done",
        Severity.HIGH,
        "a.yaml",
        "a.yaml",
        1,
    )
    lines = render("azuredevops", result_with(sneaky)).splitlines()
    assert len(lines) == 3  # the issue, the summary, task.complete Failed
    assert [line for line in lines if line.startswith("##vso[")] == [lines[0], lines[2]]
    assert agent_parse(lines[0])[0] == "task.logissue"
    assert lines[2] == "##vso[task.complete result=Failed;]"


def test_only_findings_below_the_threshold_succeed_with_issues() -> None:
    lines = render("azuredevops", result_with(BELOW_THRESHOLD, WAIVED)).splitlines()
    assert lines[0].startswith("##vso[task.logissue type=warning;")
    assert lines[1].startswith("PASS: 0 blocking findings, 1 below fail-on medium, 1 suppressed")
    assert lines[2] == "##vso[task.complete result=SucceededWithIssues;]"
    assert len(lines) == 3


def test_a_clean_or_fully_waived_gate_sets_no_result() -> None:
    assert render("azuredevops", result_with()).splitlines() == [
        "PASS: 0 blocking findings in 3 inputs (embedded engine)"
    ]
    assert render("azuredevops", result_with(WAIVED)).splitlines() == [
        "PASS: 0 blocking findings, 1 suppressed by waivers in 3 inputs (embedded engine)"
    ]


def test_the_threshold_decides_error_or_warning() -> None:
    out = render("azuredevops", result_with(BELOW_THRESHOLD, fail_on=Severity.LOW))
    assert out.startswith("##vso[task.logissue type=error;")
    assert out.endswith("##vso[task.complete result=Failed;]\n")


def test_an_unreadable_input_fails_the_task_even_below_the_threshold() -> None:
    result = result_with(BLOCKING, fail_on=Severity.CRITICAL)
    result.input_errors = 1
    lines = render("azuredevops", result).splitlines()
    assert lines[0].startswith("##vso[task.logissue type=warning;")
    assert lines[-1] == "##vso[task.complete result=Failed;]"
