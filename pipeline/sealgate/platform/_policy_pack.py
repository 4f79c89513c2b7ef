"""The CrossGuard policy pack: the same Rego policies, evaluated by ``pulumi preview``.

``policies/pack/__main__.py`` builds the pack from here, so ``pulumi preview --policy-pack
policies/pack`` enforces exactly what ``sealgate check --preview`` enforces. Each resource
is turned into the document the ``pulumi-plan`` parser makes (and, for Kubernetes objects,
into a manifest for the container policies); the whole stack into the plan summary.

pulumi-policy hands the validate callbacks its unknown-checking proxies: reading an
unknown value through them raises, and the analyzer then skips the whole policy for that
resource (or the stack) with a mere advisory note. The pack therefore unwraps the proxies
without reading through them (``plain``) and decides about unknowns itself:

- a finding that holds whatever the unknown values turn out to be is a violation;
- a rule whose outcome depends on an unknown value is "not yet verifiable": an advisory
  violation at preview (``*-unknown-at-preview`` policies), never a silent pass;
- on the final state (``pulumi up``; any run that is not a preview) the stack policy
  evaluates every resource's rules too, and an unknown left there is a violation.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sealgate.inputs._kubernetes import KUBERNETES_KIND
from sealgate.inputs._model import FieldPath, PolicyInput
from sealgate.inputs._pulumi_plan import (
    PULUMI_PLAN_KIND,
    normalize_inputs,
    plan_document,
    resource_manifest,
)
from sealgate.policy import builtin_policy_root
from sealgate.policy._decision import Finding
from sealgate.policy._engine import create_engine
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import load_policy_set

PACK_NAME = "sealgate"
DEFAULT_POLICIES = builtin_policy_root()
ReportViolation = Callable[..., None]

RESOURCE_POLICY = "sealgate-resource-rules"
STACK_POLICY = "sealgate-stack-rules"
RESOURCE_UNKNOWN_POLICY = "sealgate-resource-unknown-at-preview"
STACK_UNKNOWN_POLICY = "sealgate-stack-unknown-at-preview"

# The engine's unknown sentinels (pulumi-policy's proxy module, one per value type); the
# string one is also what ``pulumi preview --json`` and the offline plans show.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        UNKNOWN,
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
_ABSENT = object()
# Values an unknown is replaced with to see whether a rule's outcome depends on it: the
# sentinel itself (any other value), no value at all, falsy and truthy scalars, and every
# value the policies' data names (the SKUs, sources, ports... that rules compare with).
_FIXED_PROBES: tuple[object, ...] = (UNKNOWN, _ABSENT, None, False, True, 0, "")
_MAX_PROBE_TEXT = 64

# regorus engines are bound to the thread that made them, and pulumi-policy's server
# answers on a pool of threads: every evaluation runs on this one thread.
_EVALUATION = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sealgate-pack-rego")
_T = TypeVar("_T")


def _on_evaluation_thread(work: Callable[[], _T]) -> _T:
    return _EVALUATION.submit(work).result()


@cache
def _evaluator(policies: Path) -> Callable[[PolicyInput], list[Finding]]:
    policy_set = load_policy_set([policies])
    engine = create_engine("embedded", policy_set)
    return lambda policy_input: evaluate_input(policy_set, engine, policy_input)


@cache
def _probes(policies: Path) -> tuple[object, ...]:
    values: dict[str, object] = {}
    for value in _scalars(load_policy_set([policies]).data):
        if not (isinstance(value, str) and len(value) > _MAX_PROBE_TEXT):
            values.setdefault(f"{type(value).__name__}:{value}", value)
    return _FIXED_PROBES + tuple(values[key] for key in sorted(values))


def _scalars(value: Any) -> Iterator[object]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, str | int | float | bool):
        yield value


def plain(value: Any) -> Any:
    """pulumi-policy's props as plain JSON values, unknowns kept as ``UNKNOWN``.

    The proxies raise on reading an unknown item, so their targets are taken whole (the
    ``"__target"`` key is how pulumi-policy's own serializer unwraps them).
    """
    if _is_proxy(value):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double
    if value is None or isinstance(value, bool | int | float):
        return value
    secret = getattr(value, "value", _ABSENT) if type(value).__name__ == "Secret" else _ABSENT
    if secret is not _ABSENT:
        return plain(secret)
    return str(value)  # assets and archives: their description, never a hardened value


def _is_proxy(value: Any) -> bool:
    kind = type(value)
    return kind.__module__.startswith("pulumi_policy.") and kind.__name__ in {
        "_DictProxy",
        "_ListProxy",
        "_DictSecretsProxy",
        "_ListSecretsProxy",
    }


def unknown_paths(value: Any, at: FieldPath = ()) -> Iterator[FieldPath]:
    """Where ``value`` holds an unknown."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from unknown_paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unknown_paths(item, (*at, index))
    elif value == UNKNOWN:
        yield at


def _probed(value: Any, probe: object) -> Any:
    """``value`` with each unknown replaced by ``probe`` (a key left out for ``_ABSENT``,
    a list item null, so later items keep their index)."""
    if isinstance(value, dict):
        return {
            key: _probed(item, probe)
            for key, item in value.items()
            if not (item == UNKNOWN and probe is _ABSENT)
        }
    if isinstance(value, list):
        return [
            None if item == UNKNOWN and probe is _ABSENT else _probed(item, probe) for item in value
        ]
    return probe if value == UNKNOWN else value


def resource_document(
    resource_type: str, urn: str, name: str, parent: str | None, props: Any
) -> dict[str, Any]:
    return {
        "type": resource_type,
        "urn": urn,
        "name": name,
        "parent": parent or "",
        "stack": _stack(urn),
        "custom": True,
        "inputs": plain(props),
    }


def _stack(urn: str) -> str:
    return urn.split("::")[0].removeprefix("urn:pulumi:")


def stack_document(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    # The analyzer sees the desired stack only (nothing deleted); presence rules catch gaps.
    return plan_document(documents[0]["stack"] if documents else "", documents)


InputOf = Callable[[dict[str, Any]], PolicyInput]
"""Builds the input the policies read from a (probed) raw document."""


def _normalized(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "inputs": normalize_inputs(document["type"], document["inputs"])}


def _resource_inputs(document: dict[str, Any]) -> list[InputOf]:
    target = document["urn"]

    def resource(raw: dict[str, Any]) -> PolicyInput:
        return PolicyInput(PULUMI_PLAN_KIND, target, target, _normalized(raw))

    def manifest(raw: dict[str, Any]) -> PolicyInput:
        normalized = _normalized(raw)
        built = resource_manifest(normalized)
        return PolicyInput(KUBERNETES_KIND, target, target, built or {})

    if resource_manifest(document) is not None:
        return [resource, manifest]
    return [resource]


def _stack_input(raw: dict[str, Any]) -> PolicyInput:
    summary = {**raw, "resources": [_normalized(r) for r in raw["resources"]]}
    return PolicyInput(PULUMI_PLAN_KIND, summary["urn"], "", summary)


@dataclass(frozen=True)
class Unverifiable:
    """A rule whose outcome depends on values unknown at preview (``unknown`` their paths)."""

    rule_id: str
    target: str
    unknown: tuple[FieldPath, ...]


@dataclass(frozen=True)
class Verdict:
    """What the rules decide about one document: ``findings`` hold whatever the unknowns
    turn out to be; ``unverifiable`` rules wait for the final state."""

    findings: list[Finding]
    unverifiable: list[Unverifiable]


def _decide(input_of: InputOf, raw: dict[str, Any], policies: Path) -> Verdict:
    evaluate = _evaluator(policies)
    if not any(True for _ in unknown_paths(raw)):
        return Verdict(evaluate(input_of(raw)), [])
    probed = [input_of(_probed(raw, probe)) for probe in _probes(policies)]
    # Where the evaluated documents differ between probes is what depends on the unknowns:
    # the unknown values themselves and anything derived from them (parsed forms).
    varying = tuple(
        sorted(
            _differences([p.document for p in probed]) | _derived(raw, probed[0].document),
            key=str,
        )
    )
    keyed = [{(f.rule_id, f.path, f.message): f for f in evaluate(p)} for p in probed]
    stable = set(keyed[0]).intersection(*keyed[1:])
    definite = {key for key in stable if not any(key[1][: len(v)] == v for v in varying)}
    depends: dict[str, set[FieldPath]] = {}
    for run in keyed:
        for rule_id, path, _ in run.keys() - definite:
            touched = {v for v in varying if v[: len(path)] == path or path[: len(v)] == v}
            depends.setdefault(rule_id, set()).update(touched or varying)
    findings = [finding for key, finding in keyed[0].items() if key in definite]
    target = probed[0].target
    unverifiable = [
        Unverifiable(rule_id, target, tuple(sorted(paths, key=str)))
        for rule_id, paths in sorted(depends.items())
    ]
    return Verdict(findings, unverifiable)


def _derived(raw: dict[str, Any], evaluated: dict[str, Any], at: FieldPath = ()) -> set[FieldPath]:
    """The keys ``normalize_inputs`` derived from inputs that hold unknowns (a parsed form
    of an unknown value may look the same under every probe)."""
    found: set[FieldPath] = set()
    raw_inputs, inputs = raw.get("inputs"), evaluated.get("inputs")
    if isinstance(raw_inputs, dict) and isinstance(inputs, dict) and any(unknown_paths(raw_inputs)):
        found |= {(*at, "inputs", key) for key in inputs.keys() - raw_inputs.keys()}
    raw_resources, resources = raw.get("resources"), evaluated.get("resources")
    if isinstance(raw_resources, list) and isinstance(resources, list):
        for index, (before, after) in enumerate(zip(raw_resources, resources, strict=False)):
            if isinstance(before, dict) and isinstance(after, dict):
                found |= _derived(before, after, (*at, "resources", index))
    return found


def _differences(documents: Sequence[Any], at: FieldPath = ()) -> set[FieldPath]:
    """The paths where ``documents`` do not all hold the same value."""
    first = documents[0]
    if all(isinstance(d, dict) for d in documents):
        keys = {k for d in documents for k in d}
        found: set[FieldPath] = set()
        for key in keys:
            if any(key not in d for d in documents):
                found.add((*at, key))
            else:
                found |= _differences([d[key] for d in documents], (*at, key))
        return found
    if all(isinstance(d, list) and len(d) == len(first) for d in documents):
        found = set()
        for index in range(len(first)):
            found |= _differences([d[index] for d in documents], (*at, index))
        return found
    same = all(type(d) is type(first) and d == first for d in documents)
    return set() if same else {at}


def _merge(verdicts: Iterable[Verdict]) -> Verdict:
    findings: list[Finding] = []
    unverifiable: list[Unverifiable] = []
    for verdict in verdicts:
        findings += verdict.findings
        unverifiable += verdict.unverifiable
    return Verdict(findings, unverifiable)


def resource_verdict(document: dict[str, Any], policies: Path = DEFAULT_POLICIES) -> Verdict:
    """What the rules decide about one resource (its document as ``resource_document``)."""
    return _cached_verdict(
        "resource",
        json.dumps(document, sort_keys=True),
        policies,
        lambda: _merge(
            _decide(input_of, document, policies) for input_of in _resource_inputs(document)
        ),
    )


def stack_verdict(
    documents: Sequence[dict[str, Any]], policies: Path = DEFAULT_POLICIES
) -> Verdict:
    """What the rules that span resources decide about the stack."""
    summary = stack_document(documents)
    return _cached_verdict(
        "stack",
        json.dumps(summary, sort_keys=True),
        policies,
        lambda: _decide(_stack_input, summary, policies),
    )


_VERDICTS: OrderedDict[tuple[str, str, Path], Verdict] = OrderedDict()
_VERDICTS_KEPT = 512


def _cached_verdict(scope: str, key: str, policies: Path, decide: Callable[[], Verdict]) -> Verdict:
    """The mandatory and the advisory policy each ask about the same document in a row."""
    cache_key = (scope, key, policies)

    def work() -> Verdict:
        if cache_key not in _VERDICTS:
            _VERDICTS[cache_key] = decide()
            while len(_VERDICTS) > _VERDICTS_KEPT:
                _VERDICTS.popitem(last=False)
        return _VERDICTS[cache_key]

    return _on_evaluation_thread(work)


def findings_for_resource(
    document: dict[str, Any], policies: Path = DEFAULT_POLICIES
) -> list[Finding]:
    """The findings that hold whatever the resource's unknown values turn out to be."""
    return resource_verdict(document, policies).findings


def findings_for_stack(
    resources: Iterable[dict[str, Any]], policies: Path = DEFAULT_POLICIES
) -> list[Finding]:
    return stack_verdict(list(resources), policies).findings


def _message(finding: Finding) -> str:
    where = ".".join(str(p) for p in finding.path)
    return f"{finding.rule_id} [{finding.severity.value}] {finding.message}" + (
        f" (at {where})" if where else ""
    )


def _unverifiable_message(item: Unverifiable, final: bool) -> str:
    paths = ", ".join("." + ".".join(str(p) for p in path) for path in item.unknown[:5])
    more = f" and {len(item.unknown) - 5} more" if len(item.unknown) > 5 else ""
    if final:
        return f"{item.rule_id} cannot be verified: {paths}{more} unknown in the final state"
    return (
        f"{item.rule_id} not yet verifiable: it depends on {paths}{more}, unknown until the "
        f"resources exist; {STACK_POLICY} enforces it on the final state"
    )


def _is_preview() -> bool:
    """A ``pulumi preview``; anything else (or a pack not told) is the final state."""
    import pulumi.runtime

    return pulumi.runtime.is_dry_run()


def _document(args: Any) -> dict[str, Any]:
    return resource_document(
        args.resource_type, args.urn, args.name, getattr(args.opts, "parent", None), args.props
    )


def _stack_documents(args: Any) -> list[dict[str, Any]]:
    return [
        resource_document(
            r.resource_type, r.urn, r.name, r.parent.urn if r.parent is not None else None, r.props
        )
        for r in args.resources
    ]


def validate_resource(
    args: Any, report_violation: ReportViolation, policies: Path = DEFAULT_POLICIES
) -> None:
    """Mandatory per resource: the findings that hold whatever is unknown (and, outside a
    preview, every rule that still depends on an unknown)."""
    verdict = resource_verdict(_document(args), policies)
    for finding in verdict.findings:
        report_violation(_message(finding), args.urn)
    if not _is_preview():
        for item in verdict.unverifiable:
            report_violation(_unverifiable_message(item, final=True), args.urn)


def validate_resource_unknowns(
    args: Any, report_violation: ReportViolation, policies: Path = DEFAULT_POLICIES
) -> None:
    """Advisory per resource, at preview: the rules that wait for unknown values."""
    if not _is_preview():
        return
    for item in resource_verdict(_document(args), policies).unverifiable:
        report_violation(_unverifiable_message(item, final=False), args.urn)


def validate_stack(
    args: Any, report_violation: ReportViolation, policies: Path = DEFAULT_POLICIES
) -> None:
    """Mandatory over the stack: the rules that span resources; on the final state also
    every resource's rules, so nothing unknown at preview goes unchecked."""
    documents = _stack_documents(args)
    final = not _is_preview()
    verdicts = [stack_verdict(documents, policies)]
    if final:
        verdicts += [resource_verdict(d, policies) for d in documents]
    for verdict in verdicts:
        for finding in verdict.findings:
            urn = finding.target if finding.target.startswith("urn:") else None
            report_violation(_message(finding), urn)
        if final:
            for item in verdict.unverifiable:
                urn = item.target if item.target.startswith("urn:") else None
                report_violation(_unverifiable_message(item, final=True), urn)


def validate_stack_unknowns(
    args: Any, report_violation: ReportViolation, policies: Path = DEFAULT_POLICIES
) -> None:
    """Advisory over the stack, at preview: the spanning rules that wait for unknowns."""
    if not _is_preview():
        return
    for item in stack_verdict(_stack_documents(args), policies).unverifiable:
        report_violation(_unverifiable_message(item, final=False), None)


def pack_policies(policies: Path = DEFAULT_POLICIES) -> list[Any]:
    """The pack's policies: mandatory per resource and over the stack, and their advisory
    counterparts for what a preview cannot know yet."""
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

    advisory = EnforcementLevel.ADVISORY
    return [
        ResourceValidationPolicy(
            name=RESOURCE_POLICY,
            description="Every resource against sealgate's infrastructure and container Rego policies.",
            validate=lambda args, report: validate_resource(args, report, policies),
        ),
        StackValidationPolicy(
            name=STACK_POLICY,
            description="Rules that span resources (private endpoints, diagnostic settings, alerts, node pools, network policies) and, on the final state, every resource's rules.",
            validate=lambda args, report: validate_stack(args, report, policies),
        ),
        ResourceValidationPolicy(
            name=RESOURCE_UNKNOWN_POLICY,
            description="Resource rules that depend on values unknown at preview (enforced on the final state).",
            enforcement_level=advisory,
            validate=lambda args, report: validate_resource_unknowns(args, report, policies),
        ),
        StackValidationPolicy(
            name=STACK_UNKNOWN_POLICY,
            description="Stack rules that depend on values unknown at preview (enforced on the final state).",
            enforcement_level=advisory,
            validate=lambda args, report: validate_stack_unknowns(args, report, policies),
        ),
    ]


def build_pack(policies: Path = DEFAULT_POLICIES) -> Any:
    """Build and serve the pack (the constructor serves the engine's gRPC calls until exit)."""
    from pulumi_policy import EnforcementLevel, PolicyPack

    return PolicyPack(
        name=PACK_NAME,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=pack_policies(policies),
    )
