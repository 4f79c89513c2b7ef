"""A plan's resource inputs against the pinned Pulumi SDKs' own input types.

Every custom resource ``pkg:module:Type`` has an ``@pulumi.input_type`` class ``TypeArgs`` in
the SDK's Python package (``pulumi_azure_native.<module>``). Its properties carry the wire
names a plan uses (``pulumi.getter(name=...)``) and type annotations that reach down to every
nested ``*Args`` class, enum and scalar. ``input_problems`` walks a resource's plan inputs
along those annotations: an unknown property, a missing required one, a wrong scalar type or
an enum value the SDK does not list is a problem. Values still unknown at preview pass.
"""

from __future__ import annotations

import collections.abc
import enum
import importlib
import json
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any

from pulumi import _types as pulumi_types
from pulumi.runtime import rpc

_PACKAGES = {"azure-native": "pulumi_azure_native", "kubernetes": "pulumi_kubernetes"}
_SCALARS: dict[type, tuple[type, ...]] = {
    str: (str,),
    bool: (bool,),
    int: (int,),
    float: (int, float),
}


@dataclass
class Checked:
    """How much of the plan the SDK types covered."""

    resources: int = 0
    values: int = 0


def args_class(type_token: str) -> type:
    """``azure-native:keyvault:Vault`` -> ``pulumi_azure_native.keyvault.vault.VaultArgs``."""
    package, module, name = type_token.split(":")
    if package == "pulumi" and module == "providers":
        provider: type = importlib.import_module(_PACKAGES[name]).ProviderArgs
        return provider
    path = _PACKAGES[package] + ("" if module == "index" else "." + module.replace("/", "."))
    resource = getattr(importlib.import_module(path), name)
    # The input type defined beside the resource: ``VirtualNetworkInitArgs`` where the
    # package's nested type ``VirtualNetworkArgs`` (no ``resourceGroupName``) took the name.
    home = sys.modules[resource.__module__]
    [cls] = [
        value
        for value in vars(home).values()
        if isinstance(value, type)
        and value.__module__ == home.__name__
        and pulumi_types.is_input_type(value)
    ]
    return cls


def input_problems(type_token: str, inputs: dict[str, Any], checked: Checked) -> list[str]:
    """Every way ``inputs`` of a ``type_token`` resource disagree with the SDK's types."""
    checked.resources += 1
    if type_token.startswith("pulumi:providers:"):
        # A provider's inputs travel as strings, JSON for anything but a string.
        inputs = {key: _decoded(value) for key, value in inputs.items()}
    return _object(args_class(type_token), inputs, "", checked)


def _decoded(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value


def _object(cls: type, value: Any, path: str, checked: Checked) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path or '.'}: expected an object ({cls.__name__}), got {_shown(value)}"]
    properties = pulumi_types.input_type_types(cls)
    # pulumi's own notion of required: annotated without Optional.
    required = pulumi_types._required_property_names(cls)
    problems = [
        f"{path}.{name}: required by {cls.__name__}, missing"
        for name in sorted(required - value.keys())
    ]
    for name, item in value.items():
        if name not in properties:
            problems.append(f"{path}.{name}: not an input of {cls.__name__}")
            continue
        problems += _value(properties[name], item, f"{path}.{name}", checked)
    return problems


def _value(annotation: Any, value: Any, path: str, checked: Checked) -> list[str]:
    checked.values += 1
    if value == rpc.UNKNOWN:
        return []
    annotation = pulumi_types.unwrap_type(annotation)
    origin = typing.get_origin(annotation)
    if annotation is Any or annotation is object:
        return []
    if origin in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        for member in members:
            attempt = Checked()
            if not _value(member, value, path, attempt):
                checked.values += attempt.values - 1
                return []
        return [f"{path}: {_shown(value)} matches none of {_names(members)}"]
    if origin in (collections.abc.Sequence, list):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {_shown(value)}"]
        (item,) = typing.get_args(annotation)
        return [p for i, v in enumerate(value) for p in _value(item, v, f"{path}[{i}]", checked)]
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {_shown(value)}"]
        _, item = typing.get_args(annotation)
        return [p for k, v in value.items() for p in _value(item, v, f"{path}.{k}", checked)]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        allowed = {member.value for member in annotation}
        return [] if value in allowed else [f"{path}: {value!r} not in {sorted(allowed)}"]
    if isinstance(annotation, type) and pulumi_types.is_input_type(annotation):
        return _object(annotation, value, path, checked)
    if annotation in _SCALARS:
        ok = isinstance(value, _SCALARS[annotation]) and (
            annotation is bool or not isinstance(value, bool)
        )
        return [] if ok else [f"{path}: expected {annotation.__name__}, got {_shown(value)}"]
    return [f"{path}: no check for the SDK type {annotation!r}"]


def _names(members: list[Any]) -> str:
    return ", ".join(getattr(m, "__name__", str(m)) for m in members)


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]
