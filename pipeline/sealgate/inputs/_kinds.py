"""Which parser turns a file into policy inputs, by input kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sealgate._paths import display_path
from sealgate.inputs._dockerfile import DOCKERFILE_KIND, parse_dockerfile
from sealgate.inputs._iot_edge import IOT_EDGE_KIND, parse_iot_edge
from sealgate.inputs._kubernetes import KUBERNETES_KIND, parse_kubernetes
from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.inputs._pulumi_plan import (
    PULUMI_PLAN_KIND,
    PULUMI_STACK_KIND,
    StackPlanner,
    parse_pulumi_plan,
    parse_pulumi_stack,
)
from sealgate.inputs._structured import load_structured_documents
from sealgate.inputs._waivers import WAIVER_KIND, today_utc, waiver_input


@dataclass(frozen=True)
class ParseContext:
    """What a parser may need besides the file: the date (waiver expiry) and how to plan a
    sealgate platform stack offline (None: the infra extra is not installed)."""

    today: date = field(default_factory=today_utc)
    stack_planner: StackPlanner | None = None


# A parser may report one object of a file as an InputProblem and still yield the others.
Parser = Callable[[str, Path, ParseContext], Sequence[PolicyInput | InputProblem]]


def parse_documents(kind: str, path: Path, context: ParseContext) -> list[PolicyInput]:
    """Default parser: every YAML/JSON document of the file is one input."""
    shown = display_path(path)
    documents = load_structured_documents(path)
    return [
        PolicyInput(
            kind=kind,
            target=shown if len(documents) == 1 else f"{shown}#{index}",
            file=shown,
            document=document.value,
            lines=document.lines,
            line=document.line,
        )
        for index, document in enumerate(documents)
    ]


def _parse_waivers(kind: str, path: Path, context: ParseContext) -> list[PolicyInput]:
    return [waiver_input(path, context.today)]


PARSERS: dict[str, Parser] = {
    WAIVER_KIND: _parse_waivers,
    DOCKERFILE_KIND: parse_dockerfile,
    KUBERNETES_KIND: parse_kubernetes,
    IOT_EDGE_KIND: parse_iot_edge,
    PULUMI_PLAN_KIND: parse_pulumi_plan,
    PULUMI_STACK_KIND: parse_pulumi_stack,
}


def parse_file(
    kind: str, path: Path, context: ParseContext | None = None
) -> list[PolicyInput | InputProblem]:
    parser = PARSERS.get(kind, parse_documents)
    return list(parser(kind, path, context or ParseContext()))
