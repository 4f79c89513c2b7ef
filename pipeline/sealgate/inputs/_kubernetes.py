"""Kubernetes manifests as policy inputs: one input per object, the object exactly as written.

The document is the object itself, unchanged, so a rule written against it also reads
Gatekeeper's ``input.review.object``. Policies find the pod spec where the kind puts it:
``spec`` (Pod), ``spec.template.spec`` (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
ReplicationController) or ``spec.jobTemplate.spec.template.spec`` (CronJob);
``WORKLOAD_POD_SPEC_PATHS`` names the same paths for Python callers.

A ``List`` (``kind: List`` or any ``*List`` with ``items``) yields one input per item, with
paths and lines relative to the item. Every object becomes an input, workload or not; the
target is ``file#Kind/namespace/name`` (namespace ``default`` when absent).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._model import FieldPath, PolicyInput
from sealgate.inputs._structured import load_structured_documents, read_text

KUBERNETES_KIND = "kubernetes"
DEFAULT_NAMESPACE = "default"

WORKLOAD_POD_SPEC_PATHS: dict[str, FieldPath] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def parse_kubernetes(kind: str, path: Path, context: object = None) -> list[PolicyInput]:
    """Every object of every YAML document in the file, List items unpacked."""
    shown = display_path(path)
    text = read_text(path)
    try:
        documents = load_structured_documents(path, text=text)
    except InputError as exc:
        template_line = _first_template_line(text)
        if template_line is None:
            raise
        raise InputError(
            f"{path}:{template_line}: an unrendered template ({{{{ }}}}) that is not valid YAML; "
            f"render it first, e.g. with `helm template` ({exc})"
        ) from exc
    inputs: list[PolicyInput] = []
    for document in documents:
        if document.value is None:  # an empty document between two "---"
            continue
        for value, lines, line in _objects(document.value, document.lines, document.line, path):
            inputs.append(
                PolicyInput(
                    kind=kind,
                    target=f"{shown}#{object_name(value)}",
                    file=shown,
                    document=value,
                    lines=lines,
                    line=line,
                )
            )
    return inputs


def object_name(value: dict[str, Any]) -> str:
    """``Kind/namespace/name`` of an object, as waivers and reports name it."""
    metadata = value.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    name = metadata.get("name") or (
        f"{metadata['generateName']}*" if metadata.get("generateName") else "<unnamed>"
    )
    return f"{value['kind']}/{namespace}/{name}"


def _objects(
    value: Any, lines: dict[FieldPath, int], line: int, path: Path
) -> Iterator[tuple[dict[str, Any], dict[FieldPath, int], int]]:
    if not isinstance(value, dict):
        raise InputError(
            f"{path}:{line}: a {type(value).__name__} where a Kubernetes object was expected"
        )
    kind = value.get("kind")
    if not isinstance(kind, str) or not kind or not isinstance(value.get("apiVersion"), str):
        raise InputError(f"{path}:{line}: a Kubernetes object needs apiVersion and kind")
    if not _is_list(value):
        yield value, lines, line
        return
    items = value["items"]
    if not isinstance(items, list):
        where = lines.get(("items",), line)
        raise InputError(f"{path}:{where}: {kind} items must be a list")
    per_item: list[dict[FieldPath, int]] = [{} for _ in items]
    for key, number in lines.items():
        if len(key) >= 2 and key[0] == "items" and isinstance(key[1], int):
            per_item[key[1]][key[2:]] = number
    for index, item in enumerate(items):
        yield from _objects(item, per_item[index], lines.get(("items", index), line), path)


def _first_template_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if "{{" in line:
            return number
    return None


def _is_list(value: dict[str, Any]) -> bool:
    return value["kind"].endswith("List") and "items" in value
