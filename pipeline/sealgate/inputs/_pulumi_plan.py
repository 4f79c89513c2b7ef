"""Pulumi plans as policy inputs: ``pulumi preview --json`` output or ``sealgate plan``'s.

Each resource of the desired state (see ``_preview_steps``: unchanged resources included,
a replacement once, deletions apart) becomes one ``pulumi-plan`` input ``{type, urn, name,
parent, stack, custom, inputs}``. One more input, ``{type: "pulumi:plan", stack, resources:
[...], deleted: [...]}``, lets policies check what spans resources (a diagnostic setting or
a private endpoint per service, a policy per API, alerts, network policies), using the
parent links, which a real preview knows before any id exists; ``deleted`` lists what the
change removes, so a rule can name the deletion that broke it. Kubernetes resources are
also turned back into manifests (their pulumi-kubernetes inputs are already camelCase) and
evaluated as ``kubernetes`` inputs by the container policies.

``resource_document`` and ``plan_document`` are the one normalization of a resource and of
a stack: the CrossGuard pack builds its documents with them too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._kubernetes import KUBERNETES_KIND, object_name
from sealgate.inputs._model import FieldPath, PolicyInput
from sealgate.inputs._policy_xml import PolicyXmlError, parse_policy_xml
from sealgate.inputs._preview_steps import (
    SECRET_VALUE,
    UNKNOWN_VALUE,
    IncompletePreview,
    desired_state,
)
from sealgate.inputs._structured import load_structured_documents

PULUMI_PLAN_KIND = "pulumi-plan"
PULUMI_STACK_KIND = "pulumi-stack"
PLAN_TYPE = "pulumi:plan"
KUBERNETES_TYPE_PREFIX = "kubernetes:"


def parse_pulumi_plan(kind: str, path: Path, context: object = None) -> list[PolicyInput]:
    documents = load_structured_documents(path)
    if len(documents) != 1 or not isinstance(documents[0].value, dict):
        raise InputError(f"{path}: a Pulumi plan is one JSON object with `steps`")
    return plan_inputs(
        kind, documents[0].value, documents[0].lines, path, display_path(path), documents[0].line
    )


StackPlanner = Callable[[Path, str], dict[str, Any]]
"""Builds a stack's plan offline: (project folder, stack name) -> a preview-shaped plan."""


def parse_pulumi_stack(kind: str, path: Path, context: Any = None) -> list[PolicyInput]:
    """``Pulumi.<stack>.yaml``: the stack's offline plan, its findings on the stack file.

    The plan comes from the context's ``stack_planner`` (the platform program, supplied by
    the gate: this package never imports it). A finding of a rule whose METADATA names the
    stack setting it checks points at that setting's line; any other finding points at the
    top of the stack file (the program, not the stack's configuration, decided that value).
    """
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    planner: StackPlanner | None = getattr(context, "stack_planner", None)
    if planner is None:
        raise InputError(
            f"{path}: planning a sealgate platform stack offline needs the infra extra: "
            "pip install 'sealgate[infra]'"
        )
    plan = planner(path.parent, stack)
    settings = {}
    for document in load_structured_documents(path)[:1]:
        config = document.value.get("config") if isinstance(document.value, dict) else None
        for key in config if isinstance(config, dict) else {}:
            settings[str(key).partition(":")[2]] = document.lines.get(("config", key), 1)
    shown = display_path(path)
    return [
        replace(item, settings=settings)
        for item in plan_inputs(PULUMI_PLAN_KIND, plan, {}, path, shown, 1, require_full=False)
    ]


def plan_inputs(
    kind: str,
    plan: dict[str, Any],
    lines: dict[FieldPath, int],
    path: Path,
    shown: str,
    plan_line: int,
    *,
    require_full: bool = True,
) -> list[PolicyInput]:
    """One input per resource of a preview-shaped plan's desired state, its Kubernetes
    objects, and the plan summary (first). ``require_full``: refuse a preview that leaves
    out unchanged resources (see ``desired_state``)."""
    steps = plan.get("steps")
    if not isinstance(steps, list):
        raise InputError(f"{path}:{plan_line}: a Pulumi plan needs a `steps` list")
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise InputError(
                f"{path}:{lines.get(('steps', index), 1)}: step {index} is not an object"
            )
        for key in ("newState", "oldState"):
            if step.get(key) is not None and not isinstance(step[key], dict):
                where = lines.get(("steps", index, key), 1)
                raise InputError(f"{path}:{where}: {key} of step {index} is not an object")
    try:
        state = desired_state(steps, require_full=require_full)
    except IncompletePreview as exc:
        raise InputError(f"{path}:{plan_line}: {exc}") from None
    inputs: list[PolicyInput] = []
    resources: list[dict[str, Any]] = []
    for entry in state.resources:
        base: FieldPath = ("steps", entry.index, entry.key)
        where = lines.get(base, 1)
        resource = _resource(entry.state, path, where)
        resources.append(resource)
        own_lines = _rebase(lines, base, ())
        inputs.append(
            PolicyInput(kind, f"{shown}#{resource['urn']}", shown, resource, own_lines, where)
        )
        manifest = resource_manifest(resource)
        if manifest is not None:
            inputs.append(
                PolicyInput(
                    KUBERNETES_KIND,
                    f"{shown}#{object_name(manifest)}",
                    shown,
                    manifest,
                    _rebase(lines, (*base, "inputs"), ()),
                    where,
                )
            )
    deleted = [
        _resource(entry.state, path, lines.get(("steps", entry.index, entry.key), 1))
        for entry in state.deleted
    ]
    stacks = {r["stack"] for r in [*resources, *deleted]}
    if len(stacks) > 1:
        raise InputError(f"{path}: resources of several stacks ({', '.join(sorted(stacks))})")
    stack = next(iter(stacks), "")
    summary = plan_document(stack, resources, deleted, urn=f"{shown}#plan")
    # A finding of a stack-level rule on ("resources", i) points at that resource's step.
    summary_lines: dict[FieldPath, int] = {}
    for section, entries in (("resources", state.resources), ("deleted", state.deleted)):
        for position, entry in enumerate(entries):
            line = lines.get(("steps", entry.index, entry.key))
            if line is not None:
                summary_lines[(section, position)] = line
    inputs.insert(0, PolicyInput(kind, f"{shown}#plan", shown, summary, summary_lines, plan_line))
    return inputs


SUMMARY_KEYS = ("type", "urn", "name", "parent", "inputs")


def plan_document(
    stack: str,
    resources: Iterable[Mapping[str, Any]],
    deleted: Iterable[Mapping[str, Any]] = (),
    *,
    urn: str | None = None,
) -> dict[str, Any]:
    """The ``pulumi:plan`` document of a stack: its desired ``resources`` and the resources
    the change ``deleted``, each a ``resource_document`` (only its summary keys are kept)."""
    return {
        "type": PLAN_TYPE,
        "urn": urn if urn is not None else f"{stack}#plan",
        "stack": stack,
        "resources": [{k: r[k] for k in SUMMARY_KEYS} for r in resources],
        "deleted": [{k: r[k] for k in SUMMARY_KEYS} for r in deleted],
    }


def resource_document(
    type_token: str,
    urn: str,
    inputs: Mapping[str, Any],
    *,
    parent: str = "",
    custom: bool = True,
) -> dict[str, Any]:
    """The document policies read for one resource: inputs as given, plus what the gate
    parses for the rules (``inputs._parsed``, the element tree of an APIM policy's XML)."""
    parts = urn.split("::")
    return {
        "type": type_token,
        "urn": urn,
        "name": parts[-1],
        "parent": parent,
        "stack": parts[0].removeprefix("urn:pulumi:"),
        "custom": custom,
        "inputs": normalize_inputs(type_token, inputs),
    }


XML_POLICY_TYPES = frozenset(
    {
        "azure-native:apimanagement:ApiPolicy",
        "azure-native:apimanagement:ApiOperationPolicy",
        "azure-native:apimanagement:Policy",
        "azure-native:apimanagement:ProductPolicy",
    }
)


def normalize_inputs(type_token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` with the parsed form of values rules must not read as text.

    An APIM policy (``format`` xml or rawxml) gets ``_parsed``: its root element as a dict
    tree (``sealgate.inputs._policy_xml``), or null with ``_parse_error`` saying why; a value
    unknown at preview or hidden as a secret is not parsed (``_parse_error`` says so).
    """
    normalized = dict(inputs)
    if type_token in XML_POLICY_TYPES and "value" in inputs:
        value = inputs["value"]
        normalized["_parsed"] = None
        if value == UNKNOWN_VALUE:
            normalized["_parse_error"] = "the policy XML is not known at preview"
        elif value == SECRET_VALUE:
            normalized["_parse_error"] = "the policy XML is a secret the preview does not show"
        elif not isinstance(value, str):
            normalized["_parse_error"] = "the policy value is not a string"
        else:
            try:
                normalized["_parsed"] = parse_policy_xml(value)
            except PolicyXmlError as exc:
                normalized["_parse_error"] = str(exc)
    return normalized


def resource_manifest(resource: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Kubernetes manifest a plan resource declares, or None (not a Kubernetes object)."""
    type_token = resource["type"]
    if not type_token.startswith(KUBERNETES_TYPE_PREFIX) or type_token.startswith(
        "kubernetes:providers"
    ):
        return None
    return kubernetes_manifest(type_token, resource["inputs"])


def _resource(state: Any, path: Path, line: int) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise InputError(f"{path}:{line}: the resource state is not an object")
    urn, type_token = state.get("urn"), state.get("type")
    if not isinstance(urn, str) or not isinstance(type_token, str):
        raise InputError(f"{path}:{line}: a resource state needs `urn` and `type`")
    if not urn.startswith("urn:pulumi:") or len(urn.split("::")) < 4:
        raise InputError(f"{path}:{line}: {urn!r} is not a Pulumi URN")
    inputs = state.get("inputs", {})
    if not isinstance(inputs, dict):
        raise InputError(f"{path}:{line}: inputs of {urn} is not an object")
    parent = state.get("parent", "")
    return resource_document(
        type_token,
        urn,
        inputs,
        parent=parent if isinstance(parent, str) else "",
        custom=state.get("custom", True) is not False,
    )


def kubernetes_manifest(type_token: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """``kubernetes:apps/v1:Deployment`` inputs as the manifest ``kubectl`` would apply."""
    parts = type_token.split(":")
    if len(parts) != 3:
        return None
    group_version, kind = parts[1], parts[2]
    manifest = {"apiVersion": group_version.removeprefix("core/"), "kind": kind}
    manifest.update(inputs)
    return manifest


def _rebase(
    lines: dict[FieldPath, int], prefix: FieldPath, new_prefix: FieldPath
) -> dict[FieldPath, int]:
    size = len(prefix)
    return {(*new_prefix, *key[size:]): line for key, line in lines.items() if key[:size] == prefix}
