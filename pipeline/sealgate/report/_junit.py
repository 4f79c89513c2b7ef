"""JUnit XML for CI test tabs: one suite per policy, one case per input (pass) or finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from sealgate.policy._decision import Finding, GateResult
from sealgate.report._common import is_blocking, line_of, location, path_text


def render(result: GateResult) -> str:
    by_check: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in result.findings:
        by_check[(finding.package or "sealgate.gate", finding.target)].append(finding)
    suites: dict[str, ET.Element] = {}
    used_names: dict[str, set[str]] = defaultdict(set)

    def suite(name: str) -> ET.Element:
        if name not in suites:
            suites[name] = ET.Element("testsuite", name=name)
        return suites[name]

    def case(suite_name: str, name: str, file: str, line: int) -> ET.Element:
        unique, counter = name, 2
        while unique in used_names[suite_name]:
            unique, counter = f"{name} #{counter}", counter + 1
        used_names[suite_name].add(unique)
        return ET.SubElement(
            suite(suite_name),
            "testcase",
            classname=suite_name,
            name=unique,
            file=file,
            line=str(line),
        )

    for check in result.checks:
        if (check.package, check.target) not in by_check:
            case(check.package, check.target, check.file, 1)
    for (package, target), findings in by_check.items():
        for finding in findings:
            name = f"{target} {finding.rule_id}"
            if finding.path:
                name += f" {path_text(finding)}"
            element = case(package, name, finding.file, line_of(finding))
            text = f"{location(finding)}: [{finding.severity.value}] {finding.rule_id} {finding.message}"
            if finding.waiver is not None:
                w = finding.waiver
                ET.SubElement(
                    element, "skipped", message=f"waived by {w.owner} until {w.expires}: {w.reason}"
                ).text = text
            elif is_blocking(result, finding):
                ET.SubElement(
                    element, "failure", message=finding.message, type=finding.rule_id
                ).text = text
            else:
                ET.SubElement(element, "system-out").text = text

    root = ET.Element("testsuites", name="sealgate")
    totals = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    for name in sorted(suites):
        element = suites[name]
        counts = {
            "tests": len(element),
            "failures": sum(1 for c in element if c.find("failure") is not None),
            "skipped": sum(1 for c in element if c.find("skipped") is not None),
            "errors": 0,
        }
        for key, value in counts.items():
            element.set(key, str(value))
            totals[key] += value
        root.append(element)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
