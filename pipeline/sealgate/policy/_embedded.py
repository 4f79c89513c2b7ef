"""The embedded engine: regorus, compiled once and evaluated many times in-process.

regorus is the ``gate`` extra (it has wheels for few platforms), so it is imported on first
use: importing sealgate never needs it, building an engine without it is an InputError.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sealgate.errors import EngineError, InputError, PolicyLoadError

if TYPE_CHECKING:
    import regorus

# Loading policies reads the rule catalogue from this engine's syntax tree, so every command
# that loads policies needs it, also with --engine opa.
MISSING_ENGINE = "the embedded policy engine needs the gate extra: pip install 'sealgate[gate]'"
_LOCATION = re.compile(r"-->\s*(?P<file>\S+?):(?P<line>\d+):(?P<col>\d+)")
_ERROR = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)


class Undefined:
    """The result of a rule that produced no value (Rego's ``undefined``)."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = Undefined()
_UNDEFINED_TEXT = "<undefined>"


@dataclass(frozen=True)
class EngineFault:
    """An evaluation error: where in the policy it happened and why."""

    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file:
            return f"{self.file}:{self.line}: {self.message}"
        return self.message


def new_regorus_engine() -> regorus.Engine:
    """An empty regorus engine, or InputError naming the extra that provides regorus."""
    # anyhow (inside regorus) appends a Rust backtrace to every error when RUST_BACKTRACE is set.
    os.environ["RUST_LIB_BACKTRACE"] = "0"
    try:
        import regorus
    except ImportError as exc:
        raise InputError(MISSING_ENGINE) from exc
    return regorus.Engine()


def describe_engine_error(exc: BaseException) -> EngineFault:
    """Turn a multi-line regorus diagnostic into one located line."""
    text = str(exc).split("Stack backtrace:")[0]
    location = _LOCATION.search(text)
    error = _ERROR.search(text)
    if error:
        message = error.group("msg").strip().rstrip(":")
    else:
        message = " ".join(text.split()) or type(exc).__name__
    if location:
        return EngineFault(message, location.group("file"), int(location.group("line")))
    return EngineFault(message)


class EmbeddedEngine:
    """Rego v1 modules plus data, compiled at construction; evaluate() takes any input."""

    name = "embedded"

    def __init__(
        self,
        modules: Iterable[tuple[str, str]],
        data: Mapping[str, Any] | None = None,
        *,
        coverage: bool = False,
    ) -> None:
        engine = new_regorus_engine()
        engine.set_rego_v0(False)
        for path, source in modules:
            try:
                engine.add_policy(path, source)
            except Exception as exc:  # regorus raises plain RuntimeError/ValueError
                raise PolicyLoadError(str(describe_engine_error(exc))) from exc
        if data:
            try:
                engine.add_data_json(json.dumps(data))
            except Exception as exc:
                raise PolicyLoadError(f"policy data: {describe_engine_error(exc)}") from exc
        if coverage:
            engine.set_enable_coverage(True)
        # The first evaluation schedules every rule: unsafe variables and other static
        # errors surface here, at load time, rather than on the first real input.
        try:
            engine.eval_query_as_json("true")
        except Exception as exc:
            raise PolicyLoadError(str(describe_engine_error(exc))) from exc
        self._engine = engine
        self.packages = frozenset(p.removeprefix("data.") for p in engine.get_packages())

    def clone(self) -> EmbeddedEngine:
        """An independent engine sharing the compiled policies (one per thread)."""
        twin = object.__new__(EmbeddedEngine)
        # The binding has Engine.clone (the Rust engine is Clone); its bundled stub omits it.
        twin._engine = self._engine.clone()  # type: ignore[attr-defined]
        twin.packages = self.packages
        return twin

    def evaluate(self, rule: str, input_document: Any) -> Any:
        """Value of ``data.<rule>`` for ``input_document``; UNDEFINED if it has none.

        Raises EngineError (carrying an EngineFault) when the policy fails at run time.
        """
        self.set_input(input_document)
        return self.evaluate_current(rule)

    def evaluate_current(self, rule: str) -> Any:
        """Like evaluate(), against the input already set (several rules, one input)."""
        # Rule evaluation skips query compilation and is about twice as fast, but it answers
        # an undefined value with the string "<undefined>" and a missing rule with an error;
        # both cases (and any error) are settled by the exact, slower query path.
        try:
            value = json.loads(self._engine.eval_rule_as_json(f"data.{rule}"))
        except Exception:
            return self._evaluate_query(rule)
        return self._evaluate_query(rule) if value == _UNDEFINED_TEXT else value

    def _evaluate_query(self, rule: str) -> Any:
        try:
            result = json.loads(self._engine.eval_query_as_json(f"data.{rule}"))
        except Exception as exc:
            raise EngineError(str(describe_engine_error(exc))) from exc
        rows = result.get("result") or []
        if not rows:
            return UNDEFINED
        expressions = rows[0].get("expressions") or []
        if not expressions:
            return UNDEFINED
        return expressions[0].get("value", UNDEFINED)

    def set_input(self, input_document: Any) -> None:
        try:
            self._engine.set_input_json(json.dumps(input_document))
        except Exception as exc:
            raise EngineError(
                f"input rejected by the engine: {describe_engine_error(exc)}"
            ) from exc

    def coverage(self) -> dict[str, tuple[set[int], set[int]]]:
        """Per file: (covered lines, not covered lines) since coverage was enabled."""
        report = json.loads(self._engine.get_coverage_report_as_json())
        return {
            entry["path"]: (set(entry.get("covered", [])), set(entry.get("not_covered", [])))
            for entry in report.get("files", [])
        }

    def ast(self) -> list[dict[str, Any]]:
        modules: list[dict[str, Any]] = json.loads(self._engine.get_ast_as_json())
        return modules
