"""Decisions are data: rules, findings, waivers and the result of a gate run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from sealgate.inputs._model import FieldPath


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


@dataclass(frozen=True)
class RuleInfo:
    """A rule's METADATA: what the reports say about every finding with this id."""

    id: str
    title: str
    severity: Severity
    description: str
    remediation: str
    package: str
    file: str
    line: int
    waivable: bool = True
    # The stack configuration key that sets the checked value (infrastructure rules): a
    # finding on a plan built from a stack file points at that key's line.
    setting: str | None = None


@dataclass(frozen=True)
class Waiver:
    rule: str
    target: str
    owner: str
    reason: str
    expires: str
    line: int


@dataclass(frozen=True)
class Finding:
    """One violation of one rule at one field of one input."""

    rule_id: str
    message: str
    severity: Severity
    target: str
    file: str
    line: int
    path: FieldPath = ()
    package: str = ""
    waiver: Waiver | None = None

    @property
    def suppressed(self) -> bool:
        return self.waiver is not None

    def waived_by(self, waiver: Waiver) -> Finding:
        return replace(self, waiver=waiver)


@dataclass(frozen=True)
class Check:
    """One policy package evaluated on one input (a JUnit test case when it found nothing)."""

    package: str
    target: str
    file: str


@dataclass
class GateResult:
    """Everything one gate run decided, in the order inputs were evaluated."""

    rules: dict[str, RuleInfo]
    findings: list[Finding] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    inputs_evaluated: int = 0
    input_errors: int = 0
    engine: str = "embedded"
    fail_on: Severity = Severity.LOW

    @property
    def blocking(self) -> list[Finding]:
        return [
            f for f in self.findings if not f.suppressed and f.severity.rank >= self.fail_on.rank
        ]

    @property
    def suppressed(self) -> list[Finding]:
        return [f for f in self.findings if f.suppressed]

    @property
    def passed(self) -> bool:
        return not self.blocking and not self.input_errors
