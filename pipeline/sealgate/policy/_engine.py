"""One interface, two backends: the embedded engine and an OPA server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sealgate.errors import EngineError, InputError
from sealgate.policy._embedded import EmbeddedEngine, Undefined
from sealgate.policy._loader import PolicySet

if TYPE_CHECKING:
    from sealgate.policy._opa_limits import OpaLimits

ENGINES = ("embedded", "opa")


class DecisionEngine(Protocol):
    """Evaluates ``data.<rule>`` for one input; a failure is an EngineError, never a pass."""

    name: str

    def evaluate_rules(self, rules: Sequence[str], input_document: Any) -> list[Any]:
        """For each rule: its value, UNDEFINED, or the EngineError it raised."""
        ...


class EmbeddedDecisions:
    """The embedded engine behind the DecisionEngine interface (one input, many rules)."""

    name = "embedded"

    def __init__(self, engine: EmbeddedEngine) -> None:
        self._engine = engine

    def evaluate_rules(self, rules: Sequence[str], input_document: Any) -> list[Any]:
        try:
            self._engine.set_input(input_document)
        except EngineError as exc:
            return [exc for _ in rules]
        results: list[Any] = []
        for rule in rules:
            try:
                results.append(self._engine.evaluate_current(rule))
            except EngineError as exc:
                results.append(exc)
        return results


def create_engine(
    name: str,
    policy_set: PolicySet,
    *,
    opa_url: str | None = None,
    push_policies: bool = False,
    opa_limits: OpaLimits | None = None,
) -> DecisionEngine:
    """The backend chosen by flag or configuration; never a silent fallback.

    ``opa_limits`` bounds the OPA server's answers (default ``OpaLimits()``: 5 s per
    decision, 120 s for the run counted from now, 4 MiB per answer).
    """
    if name == "embedded":
        if opa_url:
            raise InputError("--opa-url is only valid with --engine opa")
        return EmbeddedDecisions(policy_set.engine())
    if name == "opa":
        if not opa_url:
            raise InputError("--engine opa needs --opa-url URL (the OPA server's address)")
        from sealgate.policy._opa import OpaServerEngine

        engine = OpaServerEngine(opa_url, limits=opa_limits)
        if push_policies:
            engine.push(policy_set)
        return engine
    raise InputError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")


def is_undefined(value: Any) -> bool:
    return isinstance(value, Undefined)
