"""The policy test runner: ``test_*`` rules (as ``opa test`` runs them), coverage, samples.

A test passes when its rule evaluates to ``true``; ``false``, undefined or an error fails it.
Rules named ``todo_test_*`` are skipped, as in OPA. Coverage counts the policy lines (tests
excluded) that the tests evaluated. Every policy folder must also have tests and a samples
suite whose cases together yield every rule id the policy declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from sealgate._paths import display_path
from sealgate.errors import EngineError, InputError
from sealgate.inputs._kinds import ParseContext, parse_file
from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.inputs._structured import load_structured_documents
from sealgate.policy._engine import EmbeddedDecisions, is_undefined
from sealgate.policy._evaluate import evaluate_input, problem_finding
from sealgate.policy._loader import PolicyModule, PolicyPackage, PolicySet

TEST_PREFIX = "test_"
SAMPLES_SUITE = Path("samples") / "suite.yaml"


@dataclass(frozen=True)
class TestOutcome:
    name: str  # data.<package>.<rule>
    file: str
    line: int
    passed: bool
    reason: str = ""


@dataclass(frozen=True)
class FileCoverage:
    file: str
    covered: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0


@dataclass
class TestReport:
    tests: list[TestOutcome] = field(default_factory=list)
    samples: list[TestOutcome] = field(default_factory=list)
    conventions: list[TestOutcome] = field(default_factory=list)
    coverage: list[FileCoverage] = field(default_factory=list)

    @property
    def outcomes(self) -> list[TestOutcome]:
        return [*self.tests, *self.samples, *self.conventions]

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.passed)

    @property
    def total_coverage(self) -> float:
        covered = sum(c.covered for c in self.coverage)
        total = sum(c.total for c in self.coverage)
        return 100.0 * covered / total if total else 100.0


def run_policy_tests(policy_set: PolicySet) -> TestReport:
    report = TestReport()
    engine = policy_set.test_engine()
    for module in policy_set.test_modules:
        for name, line in _test_rules(engine.ast(), module):
            report.tests.append(_run_test(engine, module, name, line))
    coverage = engine.coverage()
    ast = engine.ast()
    for module in policy_set.policy_modules:
        covered, not_covered = coverage.get(module.file, (set(), set()))
        lines = covered | not_covered
        if not lines:  # no test evaluated anything in this file: all of its statements count
            lines = _statement_lines(ast, module.file)
        report.coverage.append(FileCoverage(module.file, len(covered), len(lines)))
    decisions = EmbeddedDecisions(policy_set.engine())
    for package in policy_set.packages.values():
        report.conventions.extend(_check_conventions(policy_set, package))
        report.samples.extend(_run_samples(policy_set, package, decisions))
    return report


def _statement_lines(ast: list[dict[str, Any]], file: str) -> set[int]:
    """Lines of every rule-body statement of ``file`` (what coverage counts)."""
    lines: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for statement in node.get("stmts", []) if isinstance(node.get("stmts"), list) else []:
                lines.add(statement["span"]["line"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for entry in ast:
        if entry["source"]["file"] == file:
            walk(entry["ast"].get("rules", []))
    return lines


def _test_rules(ast: list[dict[str, Any]], module: PolicyModule) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    for entry in ast:
        if entry["source"]["file"] != module.file:
            continue
        for rule in entry["ast"].get("rules", []):
            head = rule.get("Spec", {}).get("head", {})
            compr = head.get("Compr")  # functions and partial sets are never tests
            var = (compr or {}).get("refr", {}).get("Var")
            if var and var["value"].startswith(TEST_PREFIX):
                seen.setdefault(var["value"], var["span"]["line"])
    return sorted(seen.items(), key=lambda item: item[1])


def _run_test(engine: Any, module: PolicyModule, name: str, line: int) -> TestOutcome:
    rule = f"{module.package}.{name}"
    try:
        value = engine.evaluate_current(rule)
    except EngineError as exc:
        return TestOutcome(f"data.{rule}", module.file, line, False, f"error: {exc}")
    if value is True:
        return TestOutcome(f"data.{rule}", module.file, line, True)
    shown = "undefined" if is_undefined(value) else value
    return TestOutcome(f"data.{rule}", module.file, line, False, f"evaluated to {shown}")


def _policy_folder(package: PolicyPackage) -> Path:
    return Path(package.file).parent


def _check_conventions(policy_set: PolicySet, package: PolicyPackage) -> list[TestOutcome]:
    folder = _policy_folder(package)
    has_tests = any(Path(m.file).parent == folder for m in policy_set.test_modules)
    suite = folder / SAMPLES_SUITE
    return [
        TestOutcome(
            f"{package.name} has tests",
            package.file,
            1,
            has_tests,
            "" if has_tests else f"no *_test.rego beside {package.file}",
        ),
        TestOutcome(
            f"{package.name} has samples",
            package.file,
            1,
            suite.is_file(),
            "" if suite.is_file() else f"no {suite}",
        ),
    ]


@dataclass(frozen=True)
class SampleCase:
    """One case of a policy folder's ``samples/suite.yaml``."""

    package: PolicyPackage
    file: Path
    expect: frozenset[str]
    context: ParseContext

    @property
    def name(self) -> str:
        return f"{self.package.name} sample {self.file.relative_to(_policy_folder(self.package) / 'samples')}"

    def inputs(self) -> list[PolicyInput]:
        """The sample parsed exactly as the gate parses files of the policy's input kind."""
        return [item for item in self.parsed() if isinstance(item, PolicyInput)]

    def parsed(self) -> list[PolicyInput | InputProblem]:
        """The inputs and the objects that could not be read (the gate's SG-GATE-004)."""
        return parse_file(self.package.kinds[0], self.file, self.context)


def sample_cases(package: PolicyPackage) -> list[SampleCase]:
    """The cases of the package's samples suite (none when the folder has no suite)."""
    path = _policy_folder(package) / SAMPLES_SUITE
    if not path.is_file():
        return []
    documents = load_structured_documents(path)
    suite = documents[0].value if documents else None
    cases = suite.get("cases") if isinstance(suite, dict) else None
    if (
        not isinstance(suite, dict)
        or not isinstance(cases, list)
        or not all(isinstance(c, dict) and c.get("input") for c in cases)
    ):
        raise InputError(
            f"{path}: expected a mapping with `cases:`, each with `input` and `expect`"
        )
    try:
        context = (
            ParseContext(date.fromisoformat(str(suite["today"])))
            if "today" in suite
            else ParseContext()
        )
    except ValueError as exc:
        raise InputError(f"{path}: `today` must be a YYYY-MM-DD date") from exc
    return [
        SampleCase(
            package,
            path.parent / str(c["input"]),
            frozenset(map(str, c.get("expect") or [])),
            context,
        )
        for c in cases
    ]


def _run_samples(
    policy_set: PolicySet, package: PolicyPackage, decisions: EmbeddedDecisions
) -> list[TestOutcome]:
    cases = sample_cases(package)
    if not cases:
        return []
    single = replace(policy_set, packages={package.name: package})
    outcomes = []
    for case in cases:
        try:
            parsed = case.parsed()
        except InputError as exc:
            outcomes.append(TestOutcome(case.name, display_path(case.file), 1, False, str(exc)))
            continue
        # A sample may also yield inputs of other kinds (a Pulumi plan's Kubernetes objects,
        # which the container policies read); only the package's own kinds are its business.
        found = {
            f.rule_id
            for i in parsed
            if isinstance(i, PolicyInput) and i.kind in package.kinds
            for f in evaluate_input(single, decisions, i)
        } | {problem_finding(i).rule_id for i in parsed if isinstance(i, InputProblem)}
        passed = found == case.expect
        reason = (
            ""
            if passed
            else (f"expected {sorted(case.expect) or 'no findings'}, got {sorted(found) or 'none'}")
        )
        outcomes.append(TestOutcome(case.name, display_path(case.file), 1, passed, reason))
    uncovered = set(package.rule_ids) - set().union(*(c.expect for c in cases))
    suite = display_path(_policy_folder(package) / SAMPLES_SUITE)
    outcomes.append(
        TestOutcome(
            f"{package.name} samples cover every rule",
            suite,
            1,
            not uncovered,
            f"no denied sample yields {', '.join(sorted(uncovered))}" if uncovered else "",
        )
    )
    return outcomes
