"""A Mermaid ``flowchart LR`` of a plan: components as subgraphs, main resources as nodes.

Edges come from the graph the plan carries: parent links (dotted) and references, where a
resource's inputs name another resource by URN, by id (its last path segment) or by name,
or list it in ``dependencies`` (solid). Supporting resources that would clutter the picture
(diagnostic settings, DNS plumbing, role assignments...) collapse into one node per
component with their count. References to the resource group are left out: every Azure
resource has one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sealgate.report._plan_view import PlanResource, PlanView

COLLAPSED = {
    "azure-native:monitor:DiagnosticSetting": "diagnostic settings",
    "azure-native:network:PrivateDnsZoneGroup": "DNS zone groups",
    "azure-native:privatedns:PrivateZone": "private DNS zones",
    "azure-native:privatedns:VirtualNetworkLink": "DNS VNet links",
    "azure-native:network:NetworkSecurityGroup": "NSGs",
    "azure-native:authorization:RoleAssignment": "role assignments",
    "azure-native:managedidentity:FederatedIdentityCredential": "federated credentials",
    "azure-native:apimanagement:ApiOperation": "API definitions",
    "azure-native:apimanagement:ApiSchema": "API definitions",
    "azure-native:apimanagement:ApiPolicy": "API definitions",
}
NOT_AN_EDGE = {"azure-native:resources:ResourceGroup"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "\n": " "}


def label(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


class _Ids:
    """Mermaid-safe, unique node ids that still read like the resource."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def new(self, prefix: str, text: str) -> str:
        base = f"{prefix}_{_UNSAFE.sub('_', text)}".lower()
        unique, counter = base, 2
        while unique in self._used:
            unique, counter = f"{base}_{counter}", counter + 1
        self._used.add(unique)
        return unique


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def references(view: PlanView) -> list[tuple[PlanResource, PlanResource]]:
    """(user, used) pairs: inputs that name another resource, and declared dependencies."""
    live = [r for r in view.resources if r.exists_after]
    by_key: dict[str, PlanResource] = {}
    for resource in live:
        by_key.setdefault(resource.name, resource)
        by_key[resource.urn] = resource
    pairs: dict[tuple[str, str], tuple[PlanResource, PlanResource]] = {}
    for resource in live:
        for text in [*_strings(resource.inputs), *resource.dependencies]:
            used = by_key.get(text) or by_key.get(text.rsplit("/", 1)[-1] if "/" in text else "")
            if used is not None and used is not resource and used.type not in NOT_AN_EDGE:
                pairs.setdefault((resource.urn, used.urn), (resource, used))
    return list(pairs.values())


def _short_type(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1]


def mermaid(view: PlanView) -> str:
    ids = _Ids()
    node: dict[str, str] = {}  # resource URN -> node id (a collapsed group's id for those)
    lines = ["flowchart LR"]
    component_urns = {c.urn for c in view.components}
    for component in view.components:
        title = component.label
        if component.name != component.label:
            title += f": {component.name}"
        lines.append(f'  subgraph {ids.new("c", component.name)}["{label(title)}"]')
        collapsed: dict[str, list[PlanResource]] = {}
        for resource in component.resources:
            kind = COLLAPSED.get(resource.type)
            if kind is not None:
                collapsed.setdefault(kind, []).append(resource)
                continue
            node[resource.urn] = ids.new("r", resource.name)
            change = "" if resource.change in ("create", "same") else f" ({resource.change})"
            text = f"{label(_short_type(resource.type))}<br/>{label(resource.name + change)}"
            lines.append(f'    {node[resource.urn]}["{text}"]')
        for kind, members in collapsed.items():
            group = ids.new("g", f"{component.name}_{kind}")
            changes = Counter(m.change for m in members)
            detail = ", ".join(f"{n} {c}" for c, n in sorted(changes.items()))
            lines.append(f'    {group}["{label(f"{kind}: {len(members)} ({detail})")}"]')
            node.update((m.urn, group) for m in members)
        lines.append("  end")
    edges: dict[tuple[str, str], str] = {}
    for user, used in references(view):
        a, b = node.get(user.urn), node.get(used.urn)
        if a and b and a != b:
            edges[(a, b)] = "-->"
    for resource in view.resources:
        if resource.parent in component_urns or resource.parent not in node:
            continue
        a, b = node.get(resource.urn), node[resource.parent]
        if a and a != b:
            edges.setdefault((a, b), "-.->")
    lines += [f"  {a} {arrow} {b}" for (a, b), arrow in edges.items()]
    return "\n".join(lines) + "\n"
