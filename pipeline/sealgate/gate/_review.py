"""``sealgate review`` as a library call: load a stack's plan (a preview file, or built
offline), gate it exactly as ``sealgate check --preview`` does, and render the review."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from sealgate._paths import display_path, reported_from
from sealgate.errors import InputError
from sealgate.gate._check import load_policies
from sealgate.gate._config import GateConfig
from sealgate.gate._stacks import plan_platform_stack
from sealgate.inputs._discovery import Candidate, is_platform_stack, load_inputs
from sealgate.inputs._kinds import ParseContext
from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.inputs._pulumi_plan import PULUMI_PLAN_KIND
from sealgate.inputs._waivers import load_waivers_file
from sealgate.policy._decision import GateResult
from sealgate.policy._engine import DecisionEngine, create_engine
from sealgate.policy._gate import run_gate
from sealgate.policy._loader import PolicySet
from sealgate.report._plan_view import read_plan
from sealgate.report._posture import production_bar
from sealgate.report._review import PlanSource, render_html, render_review


@dataclass(frozen=True)
class ReviewRequest:
    stack: str
    project_dir: Path
    preview: Path | None = None
    against: str | None = None
    against_preview: Path | None = None
    html: bool = False
    opa_push: bool = False


@dataclass(frozen=True)
class ReviewOutcome:
    markdown: str
    html: str | None
    result: GateResult


def run_review(config: GateConfig, request: ReviewRequest) -> ReviewOutcome:
    """The review of one stack, with the posture of another beside it."""
    if request.against_preview is not None and request.against is None:
        raise InputError("--against-preview needs --against STACK")
    with reported_from(config.root):
        policy_set = load_policies(config)
        bar = production_bar(policy_set.data.get("config", {}))
        main_plan = load_plan(request.stack, request.preview, request.project_dir)
        other = (
            load_plan(request.against, request.against_preview, request.project_dir)
            if request.against
            else None
        )
        waivers_file = load_waivers_file(config.waivers, ParseContext().today)
        engine = create_engine(
            config.engine,
            policy_set,
            opa_url=config.opa_url,
            push_policies=request.opa_push,
            opa_limits=config.opa_limits,
        )
        result = gate_plan(main_plan, policy_set, engine, waivers_file, config)
        text = render_review(main_plan, result, other, bar)
    page = render_html(text, f"Preview review: {request.stack}") if request.html else None
    return ReviewOutcome(text, page, result)


def load_plan(stack: str, preview: Path | None, project_dir: Path) -> PlanSource:
    """The plan of ``stack``: read from ``preview`` or built under the mock runtime (only
    for a sealgate platform stack)."""
    if preview is not None:
        try:
            plan = json.loads(preview.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{preview}: cannot read the plan: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{preview}:{exc.lineno}: not JSON: {exc.msg}") from None
        label = display_path(preview)
    else:
        stack_file = project_dir / f"Pulumi.{stack}.yaml"
        if stack_file.is_file() and not is_platform_stack(stack_file):
            raise InputError(
                f"{display_path(stack_file)}: not a sealgate platform stack (no sealgate: "
                "settings): review its `pulumi preview --json --show-sames` with --preview FILE"
            )
        plan = plan_platform_stack(project_dir, stack)
        label = display_path(stack_file)
    view = read_plan(plan, label)
    if view.stack != stack:
        raise InputError(f"{label}: the plan is of stack {view.stack!r}, not {stack!r}")
    return PlanSource(plan, view, preview, label)


def gate_plan(
    source: PlanSource,
    policy_set: PolicySet,
    engine: DecisionEngine,
    waivers_file: PolicyInput | InputProblem | None,
    config: GateConfig,
) -> GateResult:
    """Gate the plan as ``sealgate check --preview`` does; stale waivers are not reported
    (the waivers file serves every target, not just this plan)."""

    def gate(inputs: Iterable[PolicyInput | InputProblem]) -> GateResult:
        return run_gate(
            policy_set,
            engine,
            inputs,
            waivers_file=waivers_file,
            fail_on=config.fail_on,
            report_stale_waivers=False,
            selection=config.selection,
        )

    if source.file is not None:
        return gate(load_inputs([Candidate(PULUMI_PLAN_KIND, source.file)], ParseContext()))
    with tempfile.TemporaryDirectory(prefix="sealgate-review-") as folder:
        written = Path(folder) / f"{source.view.stack}.plan.json"
        written.write_text(json.dumps(source.plan), encoding="utf-8")
        inputs = list(load_inputs([Candidate(PULUMI_PLAN_KIND, written)], ParseContext()))
        return gate(_relabel(item, display_path(written), source.label) for item in inputs)


def _relabel(
    item: PolicyInput | InputProblem, written: str, label: str
) -> PolicyInput | InputProblem:
    """An offline plan's inputs name the stack file (as waivers do), not a temporary file;
    lines of the temporary file mean nothing to a reader, so findings point at line 1."""
    if isinstance(item, InputProblem):
        return replace(item, file=label, message=item.message.replace(written, label))
    target = label + item.target.removeprefix(written)
    return replace(item, target=target, file=label, lines={}, line=1)
