"""``sealgate check`` as a library call: find the inputs, evaluate them, apply waivers.

The CLI, the benchmarks and other programs call ``run_check``; it neither prints nor exits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sealgate._limits import using_limits
from sealgate._paths import display_path, reported_from
from sealgate.errors import InputError
from sealgate.gate._config import GateConfig
from sealgate.gate._stacks import plan_platform_stack, program_folders
from sealgate.inputs._discovery import (
    Candidate,
    Discovery,
    NotGated,
    changed_files,
    discover,
    load_inputs,
    only_changed,
)
from sealgate.inputs._kinds import ParseContext
from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.inputs._pulumi_plan import PULUMI_PLAN_KIND, PULUMI_STACK_KIND
from sealgate.inputs._waivers import load_waivers_file
from sealgate.policy._decision import GateResult
from sealgate.policy._engine import create_engine
from sealgate.policy._gate import EvaluatedChunk, run_gate
from sealgate.policy._loader import PolicySet, load_policy_set


@dataclass(frozen=True)
class CheckRequest:
    """What to gate: ``paths`` (default: the repository root) and preview files."""

    paths: tuple[Path, ...] = ()
    previews: tuple[Path, ...] = ()
    forced_kind: str | None = None
    changed_only: str | None = None
    ignore_unknown: bool = False
    opa_push: bool = False


@dataclass
class CheckOutcome:
    result: GateResult
    not_gated: list[NotGated] = field(default_factory=list)


def load_policies(config: GateConfig) -> PolicySet:
    """The configured policy set, with the rule selection checked against it."""
    policy_set = load_policy_set(config.policy_roots, data_files=config.data)
    config.selection.validate(policy_set.rules)
    return policy_set


def run_check(config: GateConfig, request: CheckRequest) -> CheckOutcome:
    """One gate run over the repository at ``config.root`` (paths in the result are
    relative to it)."""
    with reported_from(config.root), using_limits(config.limits):
        policy_set = load_policies(config)
        engine = create_engine(
            config.engine,
            policy_set,
            opa_url=config.opa_url,
            push_policies=request.opa_push,
            opa_limits=config.opa_limits,
        )
        context = ParseContext(stack_planner=plan_platform_stack)
        waivers_file = load_waivers_file(config.waivers, context.today)
        found = _candidates(config, request, policy_set)
        candidates = found.candidates + [Candidate(PULUMI_PLAN_KIND, p) for p in request.previews]
        # A hook that passes only files it was told to skip has nothing to gate: that is a
        # pass; a scan or a named path that finds nothing is a usage error.
        if not candidates and not request.changed_only and not request.ignore_unknown:
            shown = ", ".join(display_path(p) for p in request.paths) or str(config.root)
            raise InputError(f"no input to gate in {shown}")
        if config.engine == "embedded":
            from sealgate.policy._parallel import default_workers, gate_items

            items: Iterable[PolicyInput | InputProblem | EvaluatedChunk] = gate_items(
                policy_set, candidates, context, workers=config.jobs or default_workers()
            )
        else:
            items = load_inputs(candidates, context)
        result = run_gate(
            policy_set,
            engine,
            items,
            waivers_file=waivers_file,
            fail_on=config.fail_on,
            report_stale_waivers=not request.changed_only,
            selection=config.selection,
        )
    return CheckOutcome(result, _explained(found.not_gated, config, policy_set))


def _explained(
    not_gated: list[NotGated], config: GateConfig, policy_set: PolicySet
) -> list[NotGated]:
    """The waivers file is gated on its own, and policy folders are loaded as policies: they
    are not "not gated" files."""
    waivers = config.waivers.resolve() if config.waivers else None
    roots = [root.resolve() for root in policy_set.roots]
    explained = []
    for item in not_gated:
        path = item.path.resolve()
        if path == waivers:
            continue
        if any(path.is_relative_to(root) for root in roots):
            item = NotGated(item.path, "in a policy folder (loaded as policies, not gated)")
        explained.append(item)
    return explained


def _candidates(config: GateConfig, request: CheckRequest, policy_set: PolicySet) -> Discovery:
    if request.forced_kind:
        if not request.paths:
            raise InputError("--kind needs the files to check")
        if request.forced_kind not in policy_set.kinds:
            known = ", ".join(sorted(policy_set.kinds))
            raise InputError(
                f"--kind {request.forced_kind!r}: no loaded policy reads it (known: {known})"
            )
        for path in request.paths:
            if not path.is_file():
                raise InputError(f"{path}: --kind takes files, not folders")
        return Discovery([Candidate(request.forced_kind, path) for path in request.paths])
    if request.previews and not request.paths:
        return Discovery()
    found = discover(
        request.paths or (config.root,),
        excludes=config.excludes,
        ignore_unknown=request.ignore_unknown,
    )
    if request.changed_only:
        changed = changed_files(request.changed_only, config.root)
        projects = {c.path.parent for c in found.candidates if c.kind == PULUMI_STACK_KIND}
        kept = only_changed(found.candidates, changed, program_folders(projects))
        found.not_gated += [
            NotGated(c.path, f"unchanged since {request.changed_only}")
            for c in found.candidates
            if c not in kept
        ]
        found.candidates = kept
    return found
