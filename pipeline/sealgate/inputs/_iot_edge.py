"""IoT Edge deployment manifests as policy inputs: one input per module, system modules too.

Accepted shapes (JSON or YAML): a deployment manifest ``{"modulesContent": {...}}``, the
deployment that ``az iot edge deployment`` takes ``{"content": {"modulesContent": {...}}}``,
and layered deployments whose ``$edgeAgent`` holds ``properties.desired.modules.NAME`` keys.

The document of each module::

    {
      "name": "model",
      "system": false,                    # edgeAgent and edgeHub are system modules
      "type": "docker", "version": "1.0", "status": "running", "restartPolicy": "always",
      "imagePullPolicy": null, "startupOrder": null,     # null where the manifest omits them
      "image": "myregistry.azurecr.io/model:1.0",        # settings.image
      "createOptions": {"HostConfig": {"Privileged": true}},  # parsed; {} when absent
      "env": {"MODEL_PATH": {"value": "/models"}} | null,
      "settings": {...},                  # the module's settings exactly as written
      "placeholders": [                   # unresolved template placeholders in this module
        {"value": "${MODULES.model}", "path": ["settings", "image"]},
      ],
      "template": null | {                # on ONE module of a templated manifest only
        "placeholders": 3,                # string values with a placeholder, whole manifest
        "first": "${MODULES.model}",
        "field": "modulesContent.$edgeAgent.properties.desired.modules.model.settings.image",
      },
    }

``template`` is set on the module holding the manifest's first placeholder (on the first
module when it lies outside every module) and located at that placeholder's line, so that a
template is reported once, not once per module (see ``_edge_placeholders``).

``createOptions`` is Docker's container create body as a JSON string, sometimes split into
``createOptions01``, ``createOptions02``... chunks that are concatenated in order; a
template may also write it as an object. Fields of the manifest keep their own lines; every
field inside a string ``createOptions`` maps to the line of that string (its first chunk).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sealgate._json import loads_unique
from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._edge_placeholders import Placeholder, dotted, find_placeholders
from sealgate.inputs._model import FieldPath, PolicyInput
from sealgate.inputs._structured import StructuredDocument, load_structured_documents

IOT_EDGE_KIND = "iot-edge"
SYSTEM_MODULES = "systemModules"
USER_MODULES = "modules"
_LAYERED_MODULE = "properties.desired.modules."
_CHUNK = re.compile(r"^createOptions(\d+)$")
_MODULE_FIELDS = ("type", "version", "status", "restartPolicy", "imagePullPolicy", "startupOrder")


def parse_iot_edge(kind: str, path: Path, context: object = None) -> list[PolicyInput]:
    """One input per module of the manifest's ``$edgeAgent`` desired properties."""
    shown = display_path(path)
    documents = load_structured_documents(path)
    if len(documents) != 1:
        raise InputError(
            f"{path}:1: a deployment manifest is one document, this file has {len(documents)}"
        )
    [manifest] = documents
    modules = _module_paths(manifest, path)
    module_lines = _lines_by_module(manifest.lines, [module_path for _, _, module_path in modules])
    placeholders = find_placeholders(manifest.value)
    reporter = _template_reporter(placeholders, [where for _, _, where in modules])
    placeholders_by_module = _placeholders_by_module(placeholders, module_lines)
    inputs = []
    for name, system, module_path in modules:
        document, lines = _module_document(
            name, system, module_path, manifest, module_lines[module_path], path
        )
        document["placeholders"] = placeholders_by_module.get(module_path, [])
        document["template"] = None
        if module_path == reporter:
            first = placeholders[0]
            document["template"] = {
                "placeholders": len(placeholders),
                "first": first.value,
                "field": dotted(first.path),
            }
            lines[("template",)] = manifest.lines.get(first.path, manifest.line)
        inputs.append(
            PolicyInput(
                kind=kind,
                target=f"{shown}#module/{name}",
                file=shown,
                document=document,
                lines=lines,
                line=manifest.lines.get(module_path, manifest.line),
            )
        )
    return inputs


def _placeholders_by_module(
    placeholders: list[Placeholder], modules: dict[FieldPath, Any]
) -> dict[FieldPath, list[dict[str, Any]]]:
    """Each module's placeholders, paths relative to the module (one lookup per placeholder)."""
    sizes = sorted({len(where) for where in modules})
    grouped: dict[FieldPath, list[dict[str, Any]]] = {}
    for found in placeholders:
        for size in sizes:
            if found.path[:size] in modules:
                grouped.setdefault(found.path[:size], []).append(
                    {"value": found.value, "path": list(found.path[size:])}
                )
                break
    return grouped


def _template_reporter(
    placeholders: list[Placeholder], module_paths: list[FieldPath]
) -> FieldPath | None:
    """The module that reports the template: the one holding its first placeholder."""
    if not placeholders or not module_paths:
        return None
    first = placeholders[0].path
    return next((where for where in module_paths if first[: len(where)] == where), module_paths[0])


def _module_paths(manifest: StructuredDocument, path: Path) -> list[tuple[str, bool, FieldPath]]:
    """Name, system flag and manifest path of every module, system modules first."""
    root = manifest.value
    if isinstance(root, dict) and isinstance(root.get("content"), dict):
        base: FieldPath = ("content", "modulesContent")
    else:
        base = ("modulesContent",)
    agent_path = (*base, "$edgeAgent")
    agent = _mapping_at(manifest, agent_path, path)
    if "properties.desired" in agent:
        desired_path = (*agent_path, "properties.desired")
        desired = _mapping_at(manifest, desired_path, path)
        found = []
        for group, system in ((SYSTEM_MODULES, True), (USER_MODULES, False)):
            if group in desired:
                modules = _mapping_at(manifest, (*desired_path, group), path)
                found += [(name, system, (*desired_path, group, name)) for name in modules]
        return found
    layered = [
        (key[len(_LAYERED_MODULE) :], False, (*agent_path, key))
        for key in agent
        if key.startswith(_LAYERED_MODULE) and "." not in key[len(_LAYERED_MODULE) :]
    ]
    if not layered:
        line = manifest.lines.get(agent_path, manifest.line)
        raise InputError(f"{path}:{line}: $edgeAgent has no properties.desired")
    return layered


def _mapping_at(manifest: StructuredDocument, where: FieldPath, path: Path) -> dict[str, Any]:
    value: Any = manifest.value
    for depth, key in enumerate(where):
        if not isinstance(value, dict) or key not in value:
            line = manifest.lines.get(where[:depth], manifest.line)
            raise InputError(f"{path}:{line}: no {'.'.join(map(str, where))} in the manifest")
        value = value[key]
    if not isinstance(value, dict):
        line = manifest.lines.get(where, manifest.line)
        raise InputError(f"{path}:{line}: {where[-1]} must be a mapping")
    return value


def _module_document(
    name: str,
    system: bool,
    module_path: FieldPath,
    manifest: StructuredDocument,
    module_lines: dict[FieldPath, int],
    path: Path,
) -> tuple[dict[str, Any], dict[FieldPath, int]]:
    module = _mapping_at(manifest, module_path, path)
    settings = module.get("settings")
    settings_path = (*module_path, "settings")
    if settings is not None and not isinstance(settings, dict):
        line = manifest.lines.get(settings_path, manifest.line)
        raise InputError(f"{path}:{line}: module {name}: settings must be a mapping")
    settings = settings or {}
    create_options, options_line = _create_options(name, settings, settings_path, manifest, path)
    document: dict[str, Any] = {
        "name": name,
        "system": system,
        **{field: module.get(field) for field in _MODULE_FIELDS},
        "image": settings.get("image"),
        "createOptions": create_options,
        "env": module.get("env"),
        "settings": settings,
    }
    lines = dict(module_lines)
    lines[("name",)] = lines[("image",)] = manifest.lines.get(module_path, manifest.line)
    if ("settings", "image") in lines:
        lines[("image",)] = lines[("settings", "image")]
    if isinstance(settings.get("createOptions"), dict):
        options_prefix = ("settings", "createOptions")
        lines.update(
            {
                ("createOptions", *key[2:]): line
                for key, line in module_lines.items()
                if key[:2] == options_prefix
            }
        )
    elif options_line is not None:
        lines[("createOptions",)] = options_line
    return document, lines


def _lines_by_module(
    lines: dict[FieldPath, int], module_paths: list[FieldPath]
) -> dict[FieldPath, dict[FieldPath, int]]:
    """The lines under each module path, relative to it, in one pass over the manifest's
    lines (relocating per module would cost modules x lines)."""
    by_module: dict[FieldPath, dict[FieldPath, int]] = {where: {} for where in module_paths}
    sizes = sorted({len(where) for where in module_paths})
    for key, line in lines.items():
        for size in sizes:
            module = by_module.get(key[:size])
            if module is not None:
                module[key[size:]] = line
                break
    return by_module


def _create_options(
    name: str,
    settings: dict[str, Any],
    settings_path: FieldPath,
    manifest: StructuredDocument,
    path: Path,
) -> tuple[dict[str, Any], int | None]:
    """The parsed createOptions (chunks joined in order) and the line of its first part."""
    options = settings.get("createOptions")
    line = manifest.lines.get((*settings_path, "createOptions"))
    chunks = sorted(
        (int(found.group(1)), key) for key in settings if (found := _CHUNK.match(key)) is not None
    )
    if chunks and options is None:
        chunk_line = manifest.lines.get((*settings_path, chunks[0][1]), manifest.line)
        raise InputError(
            f"{path}:{chunk_line}: module {name}: {chunks[0][1]} without createOptions"
        )
    if [number for number, _ in chunks] != list(range(1, len(chunks) + 1)):
        names = ", ".join(key for _, key in chunks)
        raise InputError(
            f"{path}:{line}: module {name}: createOptions chunks must be numbered 01, 02, ... "
            f"without gaps (found {names})"
        )
    if options is None:
        return {}, None
    if isinstance(options, dict) and not chunks:
        _refuse_case_twins(options, f"{path}:{line}: module {name}")
        return options, line
    parts = [options, *(settings[key] for _, key in chunks)]
    if not all(isinstance(part, str) for part in parts):
        raise InputError(f"{path}:{line}: module {name}: createOptions must be a JSON string")
    text = "".join(parts)
    if not text.strip():
        return {}, line
    try:
        # Docker keeps the last of duplicate keys: refused, as are values beyond the limits.
        parsed = loads_unique(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{line}: module {name}: createOptions is not valid JSON "
            f"({exc.msg} at character {exc.pos})"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}:{line}: module {name}: createOptions: {exc}") from exc
    if not isinstance(parsed, dict):
        raise InputError(
            f"{path}:{line}: module {name}: createOptions must be a JSON object, "
            f"not {type(parsed).__name__}"
        )
    _refuse_case_twins(parsed, f"{path}:{line}: module {name}")
    return parsed, line


def _refuse_case_twins(options: dict[str, Any], where: str) -> None:
    """edgeAgent (Newtonsoft.Json) binds a field name ignoring case, so "Privileged" and
    "privileged" are one field whose value depends on their order: refuse both."""
    levels = [("createOptions", options)]
    levels += [
        (f"createOptions.{key}", value)
        for key, value in options.items()
        if key.lower() == "hostconfig" and isinstance(value, dict)
    ]
    for level, fields in levels:
        seen: dict[str, str] = {}
        for key in fields:
            twin = seen.setdefault(key.lower(), key)
            if twin != key:
                raise InputError(
                    f"{where}: {level} has both {twin!r} and {key!r}, which the IoT Edge "
                    "runtime reads as one field"
                )
