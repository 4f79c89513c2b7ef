"""Parity of the embedded engine (regorus) with OPA itself, run in-process.

``opa-golib-python-bindings`` embeds OPA's own Go ``rego`` package
(github.com/open-policy-agent/opa) as a c-shared library: no server, no download, no network.
It always evaluates with strict builtin errors, as ``pipeline/policy/opa.py`` asks of a server.

(a) Every package's ``deny`` on every input of every samples suite: both engines return the
    same set of findings (or both are undefined, or both fail).
(b) Every ``test_*`` rule that ``sealgate policy test`` runs is ``true`` on OPA too, as
    ``opa test`` requires.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from sealgate.errors import EngineError
from sealgate.policy._engine import is_undefined
from sealgate.policy._loader import PolicySet, load_policy_set
from sealgate.policy._testing import SampleCase, run_policy_tests, sample_cases

from tests.conftest import REPO

opa_bindings: Any = pytest.importorskip(
    "opa_bindings",
    reason="the OPA Go engine (PyPI opa-golib-python-bindings, module opa_bindings) is not installed",
)


@dataclass(frozen=True)
class Outcome:
    """One engine's answer for one decision: findings, undefined, or an error."""

    kind: str  # "value" | "undefined" | "error"
    findings: tuple[str, ...] = ()  # canonical JSON of each finding, sorted
    detail: str = ""  # the error message; not compared (the engines word errors differently)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return self.kind, self.findings

    def __str__(self) -> str:
        if self.kind == "value":
            return "[" + ", ".join(self.findings) + "]"
        return f"{self.kind} {self.detail}".strip()


def _value(value: Any) -> Outcome:
    items = value if isinstance(value, list) else [value]
    return Outcome("value", tuple(sorted(json.dumps(i, sort_keys=True) for i in items)))


@cache
def _policy_set() -> PolicySet:
    return load_policy_set([REPO / "policies"])


CASES: list[SampleCase] = [
    case for package in _policy_set().packages.values() for case in sample_cases(package)
]
TESTS: list[str] = [outcome.name for outcome in run_policy_tests(_policy_set()).tests]


def _opa_engine(*, with_tests: bool) -> Any:
    policy_set = _policy_set()
    engine = opa_bindings.OpaEngine()
    for module in policy_set.modules if with_tests else policy_set.policy_modules:
        engine.add_policy(module.file, module.source)
    engine.add_data(policy_set.data)
    return engine


@pytest.fixture(scope="module")
def opa_decisions() -> Iterator[Any]:
    engine = _opa_engine(with_tests=False)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def opa_tests() -> Iterator[Any]:
    engine = _opa_engine(with_tests=True)
    yield engine
    engine.close()


def _opa(engine: Any, rule: str, document: Any, *, with_input: bool = True) -> Outcome:
    try:
        if with_input and document is None:  # the bindings would send no input at all
            rows = engine.eval_query(f"value := data.{rule} with input as null")
            return _value(rows[0]["value"]) if rows else Outcome("undefined")
        return _value(engine.eval_document(rule, document))
    except opa_bindings.OpaUndefinedError:
        return Outcome("undefined")
    except opa_bindings.OpaError as exc:
        return Outcome("error", detail=str(exc))


def _embedded(rule: str, document: Any) -> Outcome:
    try:
        value = _policy_set().engine().evaluate(rule, document)
    except EngineError as exc:
        return Outcome("error", detail=str(exc))
    return Outcome("undefined") if is_undefined(value) else _value(value)


def test_there_is_something_to_compare() -> None:
    assert _policy_set().packages, "no policy package defines `deny`"
    assert CASES, "no samples suite case found"
    assert TESTS, "no test_* rule found"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_deny_decisions_match_opa(opa_decisions: Any, case: SampleCase) -> None:
    mismatches = []
    for policy_input in case.inputs():
        for package in _policy_set().packages.values():
            embedded = _embedded(package.decision, policy_input.document)
            opa = _opa(opa_decisions, package.decision, policy_input.document)
            if embedded.key != opa.key:
                mismatches.append(
                    f"data.{package.decision} on {policy_input.target}:\n"
                    f"  embedded: {embedded}\n  opa:      {opa}"
                )
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("rule", TESTS)
def test_policy_test_passes_on_opa(opa_tests: Any, rule: str) -> None:
    outcome = _opa(opa_tests, rule.removeprefix("data."), None, with_input=False)
    assert outcome.key == ("value", ("true",)), f"{rule} on OPA: {outcome}"
