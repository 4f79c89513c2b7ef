"""Pulumi plans as policy inputs: ``pulumi preview --json`` output or ``sealgate plan``'s.

Each ``steps[].newState`` becomes one ``pulumi-plan`` input ``{type, urn, name, parent,
stack, inputs}`` (steps without a new state, i.e. deletions, are skipped). One more input,
``{type: "pulumi:plan", stack, resources: [...]}``, lets policies check what spans resources
(a diagnostic setting or a private endpoint per service, alerts, network policies), using
the parent links, which a real preview knows before any id exists. Kubernetes resources are
also turned back into manifests (their pulumi-kubernetes inputs are already camelCase) and
evaluated as ``kubernetes`` inputs by the container policies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._kubernetes import KUBERNETES_KIND, object_name
from sealgate.inputs._model import FieldPath, PolicyInput
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
        for item in plan_inputs(PULUMI_PLAN_KIND, plan, {}, path, shown, 1)
    ]


def plan_inputs(
    kind: str,
    plan: dict[str, Any],
    lines: dict[FieldPath, int],
    path: Path,
    shown: str,
    plan_line: int,
) -> list[PolicyInput]:
    """One input per resource of a preview-shaped plan, its Kubernetes objects, the plan."""
    steps = plan.get("steps")
    if not isinstance(steps, list):
        raise InputError(f"{path}:{plan_line}: a Pulumi plan needs a `steps` list")
    inputs: list[PolicyInput] = []
    summary: list[dict[str, Any]] = []
    stacks: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise InputError(
                f"{path}:{lines.get(('steps', index), 1)}: step {index} is not an object"
            )
        state = step.get("newState")
        if state is None:
            continue
        base: FieldPath = ("steps", index, "newState")
        where = lines.get(base, 1)
        resource = _resource(state, path, where)
        stacks.add(resource["stack"])
        summary.append({k: resource[k] for k in ("type", "urn", "name", "parent", "inputs")})
        own_lines = _rebase(lines, base, ())
        inputs.append(
            PolicyInput(kind, f"{shown}#{resource['urn']}", shown, resource, own_lines, where)
        )
        if resource["type"].startswith(KUBERNETES_TYPE_PREFIX) and not resource["type"].startswith(
            "kubernetes:providers"
        ):
            manifest = kubernetes_manifest(resource["type"], resource["inputs"])
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
    if len(stacks) > 1:
        raise InputError(f"{path}: resources of several stacks ({', '.join(sorted(stacks))})")
    stack = next(iter(stacks), "")
    plan_document = {
        "type": PLAN_TYPE,
        "urn": f"{shown}#plan",
        "stack": stack,
        "resources": summary,
    }
    inputs.insert(0, PolicyInput(kind, f"{shown}#plan", shown, plan_document, {}, plan_line))
    return inputs


def _resource(state: Any, path: Path, line: int) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise InputError(f"{path}:{line}: newState is not an object")
    urn, type_token = state.get("urn"), state.get("type")
    if not isinstance(urn, str) or not isinstance(type_token, str):
        raise InputError(f"{path}:{line}: newState needs `urn` and `type`")
    parts = urn.split("::")
    if not urn.startswith("urn:pulumi:") or len(parts) < 4:
        raise InputError(f"{path}:{line}: {urn!r} is not a Pulumi URN")
    inputs = state.get("inputs", {})
    if not isinstance(inputs, dict):
        raise InputError(f"{path}:{line}: inputs of {urn} is not an object")
    parent = state.get("parent", "")
    return {
        "type": type_token,
        "urn": urn,
        "name": parts[-1],
        "parent": parent if isinstance(parent, str) else "",
        "stack": parts[0].removeprefix("urn:pulumi:"),
        "custom": state.get("custom", True) is not False,
        "inputs": inputs,
    }


def normalize_inputs(type_token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` as the policies read them: the one place a derived form of a value is
    added (the CrossGuard pack calls it too, so both gates read the same document)."""
    return dict(inputs)


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
