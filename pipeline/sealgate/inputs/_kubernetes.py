"""Kubernetes manifests as policy inputs: one input per object, the object exactly as written.

The document is the object itself, unchanged, so a rule written against it also reads
Gatekeeper's ``input.review.object``. Policies find the pod spec where the kind puts it:
``spec`` (Pod), ``spec.template.spec`` (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
ReplicationController) or ``spec.jobTemplate.spec.template.spec`` (CronJob);
``WORKLOAD_POD_SPEC_PATHS`` names the same paths for Python callers.

A ``List`` (``kind: List`` or any ``*List`` with ``items``) yields one input per item, with
paths and lines relative to the item. Every object becomes an input, workload or not; the
target is ``file#Kind/namespace/name`` (namespace ``default`` when absent).

An object that is not one (a null ``List`` item, no ``kind``) or a workload whose pod spec is
malformed (``spec`` a list, ``containers`` a mapping: shapes the API server refuses and the
policies cannot read) becomes an ``InputProblem`` naming its line, and the file's other
objects are still gated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._model import FieldPath, InputProblem, PolicyInput
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

# The fields of a pod spec that hold lists of mappings the policies read.
POD_SPEC_LISTS = ("containers", "initContainers", "ephemeralContainers", "volumes")


def parse_kubernetes(
    kind: str, path: Path, context: object = None
) -> list[PolicyInput | InputProblem]:
    """Every object of every YAML document in the file, List items unpacked; an object that
    cannot be read is an InputProblem in its place."""
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
    inputs: list[PolicyInput | InputProblem] = []
    for document in documents:
        if document.value is None:  # an empty document between two "---"
            continue
        for found in _objects(document.value, document.lines, document.line, path, ()):
            if isinstance(found, InputProblem):
                inputs.append(found)
                continue
            value, lines, line = found
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


_Object = tuple[dict[str, Any], dict[FieldPath, int], int]


def _objects(
    value: Any, lines: dict[FieldPath, int], line: int, path: Path, where: FieldPath
) -> Iterator[_Object | InputProblem]:
    """The objects of one document (``where``: its List item path, for messages)."""

    def problem(at: int, message: str) -> InputProblem:
        item = f"{_dotted(where)}: " if where else ""
        return InputProblem(display_path(path), f"{path}:{at}: {item}{message}", at)

    if not isinstance(value, dict):
        yield problem(line, f"{_a(value)} where a Kubernetes object was expected")
        return
    kind = value.get("kind")
    if not isinstance(kind, str) or not kind or not isinstance(value.get("apiVersion"), str):
        yield problem(line, "a Kubernetes object needs apiVersion and kind")
        return
    if not _is_list(value):
        malformed = _malformed_pod_spec(value, lines)
        if malformed is not None:
            at, message = malformed
            yield problem(at or line, f"{object_name(value)}: {message}")
            return
        yield value, lines, line
        return
    items = value["items"]
    if not isinstance(items, list):
        yield problem(lines.get(("items",), line), f"{kind} items must be a list")
        return
    per_item: list[dict[FieldPath, int]] = [{} for _ in items]
    for key, number in lines.items():
        if len(key) >= 2 and key[0] == "items" and isinstance(key[1], int):
            per_item[key[1]][key[2:]] = number
    for index, item in enumerate(items):
        item_line = lines.get(("items", index), line)
        yield from _objects(item, per_item[index], item_line, path, (*where, "items", index))


def _malformed_pod_spec(
    value: dict[str, Any], lines: dict[FieldPath, int]
) -> tuple[int | None, str] | None:
    """The line and reason when a workload's pod spec has a shape the policies cannot read;
    a missing or null part is absent, not malformed."""
    spec_path = WORKLOAD_POD_SPEC_PATHS.get(value["kind"])
    if spec_path is None:
        return None
    current: Any = value
    for depth in range(len(spec_path)):
        current = current.get(spec_path[depth])
        if current is None:
            return None
        if not isinstance(current, dict):
            where = spec_path[: depth + 1]
            return lines.get(where), f"{_dotted(where)} is {_a(current)}, not a mapping"
    for field in POD_SPEC_LISTS:
        entries = current.get(field)
        where = (*spec_path, field)
        if entries is None:
            continue
        if not isinstance(entries, list):
            return lines.get(where), f"{_dotted(where)} is {_a(entries)}, not a list"
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                at = (*where, index)
                return lines.get(at), f"{_dotted(at)} is {_a(entry)}, not a mapping"
    return None


def _a(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number"}
    return f"a {names.get(type(value), type(value).__name__)}"


def _dotted(where: FieldPath) -> str:
    """``items[3]``, ``spec.template.spec.containers[0]``: a path as messages write it."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _first_template_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if "{{" in line:
            return number
    return None


def _is_list(value: dict[str, Any]) -> bool:
    return value["kind"].endswith("List") and "items" in value
