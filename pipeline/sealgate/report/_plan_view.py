"""A preview-shaped plan as the review reads it: resources, their changes and components.

Reads ``pulumi preview --json`` output and ``sealgate plan`` files alike. A resource belongs
to the nearest ComponentResource up its parent chain; resources parented straight to the
stack form the ``stack`` group.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sealgate.errors import InputError

STACK_TYPE = "pulumi:pulumi:Stack"
STACK_GROUP = "stack"
CHANGES = ("create", "update", "replace", "delete", "same")

# Every step `op` of the Pulumi engine, as the change a reviewer counts. A replacement shows
# up as up to three steps of one URN (create-replacement, replace, delete-replaced).
_OPS = {
    "create": "create",
    "import": "create",
    "update": "update",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "import-replacement": "replace",
    "read-replacement": "replace",
    "discard-replaced": "replace",
    "delete": "delete",
    "discard": "delete",
    "same": "same",
    "read": "same",
    "refresh": "same",
    "remove-pending-replace": "same",
}
_WEIGHT = {"replace": 4, "delete": 3, "create": 2, "update": 1, "same": 0}


@dataclass
class PlanResource:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    change: str
    component: str = STACK_GROUP  # URN of the owning ComponentResource, or "stack"

    @property
    def exists_after(self) -> bool:
        return self.change != "delete"


@dataclass
class Component:
    urn: str
    type: str
    name: str
    resources: list[PlanResource] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.type.rsplit(":", 1)[-1] if self.urn != STACK_GROUP else STACK_GROUP

    def counts(self) -> Counter[str]:
        return Counter(r.change for r in self.resources)


@dataclass
class PlanView:
    stack: str
    config: dict[str, Any]
    resources: list[PlanResource]
    components: list[Component]

    def counts(self) -> Counter[str]:
        return Counter(r.change for r in self.resources)

    def of_type(self, type_token: str) -> list[PlanResource]:
        return [r for r in self.resources if r.type == type_token and r.exists_after]

    def children(self, resource: PlanResource) -> list[PlanResource]:
        return [r for r in self.resources if r.parent == resource.urn and r.exists_after]


def read_plan(plan: Any, source: str) -> PlanView:
    """Validate a plan's shape (one-line InputError naming ``source``) and group it."""
    if not isinstance(plan, dict) or not isinstance(plan.get("steps"), list):
        raise InputError(f"{source}: a Pulumi plan is one JSON object with a `steps` list")
    by_urn: dict[str, PlanResource] = {}
    stacks: set[str] = set()
    for index, step in enumerate(plan["steps"]):
        resource = _resource(step, f"{source}: step {index}")
        if resource is None:
            continue
        stacks.add(resource.urn.split("::")[0].removeprefix("urn:pulumi:"))
        known = by_urn.get(resource.urn)
        if known is None:
            by_urn[resource.urn] = resource
        elif _WEIGHT[resource.change] > _WEIGHT[known.change]:
            known.change = resource.change
    if len(stacks) != 1:
        found = ", ".join(sorted(stacks)) or "none"
        raise InputError(f"{source}: expected the resources of one stack, found {found}")
    config = plan.get("config")
    resources = list(by_urn.values())
    return PlanView(
        stack=stacks.pop(),
        config=config if isinstance(config, dict) else {},
        resources=resources,
        components=_components(resources),
    )


def _resource(step: Any, where: str) -> PlanResource | None:
    if not isinstance(step, dict):
        raise InputError(f"{where} is not an object")
    op = step.get("op")
    change = _OPS.get(op) if isinstance(op, str) else None
    if change is None:
        raise InputError(f"{where}: unknown op {op!r}")
    state = step.get("newState") or step.get("oldState")
    if not isinstance(state, dict):
        raise InputError(f"{where}: neither newState nor oldState is an object")
    urn, type_token = state.get("urn"), state.get("type")
    if not isinstance(urn, str) or not isinstance(type_token, str):
        raise InputError(f"{where}: the state needs `urn` and `type`")
    if not urn.startswith("urn:pulumi:") or len(urn.split("::")) < 4:
        raise InputError(f"{where}: {urn!r} is not a Pulumi URN")
    if type_token == STACK_TYPE:
        return None
    inputs = state.get("inputs", {})
    if not isinstance(inputs, dict):
        raise InputError(f"{where}: inputs of {urn} is not an object")
    parent = state.get("parent", "")
    dependencies = state.get("dependencies", [])
    return PlanResource(
        urn=urn,
        type=type_token,
        name=urn.split("::")[-1],
        parent=parent if isinstance(parent, str) else "",
        custom=state.get("custom", True) is not False,
        inputs=inputs,
        dependencies=[d for d in dependencies if isinstance(d, str)]
        if isinstance(dependencies, list)
        else [],
        change=change,
    )


def _components(resources: list[PlanResource]) -> list[Component]:
    by_urn = {r.urn: r for r in resources}
    components = {
        r.urn: Component(r.urn, r.type, r.name)
        for r in resources
        if not r.custom and not r.type.startswith("pulumi:providers:")
    }
    stack = Component(STACK_GROUP, STACK_TYPE, STACK_GROUP)
    for resource in resources:
        if resource.urn in components:
            continue
        owner, seen = resource.parent, {resource.urn}
        while owner in by_urn and owner not in components and owner not in seen:
            seen.add(owner)
            owner = by_urn[owner].parent
        group = components.get(owner, stack)
        resource.component = group.urn
        group.resources.append(resource)
    ordered = sorted(components.values(), key=lambda c: c.label)
    return [*ordered, stack] if stack.resources else ordered
