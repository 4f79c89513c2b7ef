"""Unresolved template placeholders in an IoT Edge deployment manifest.

A deployment template (``deployment.template.json`` of the IoT Edge tooling) names images and
settings by placeholders that ``iotedgedev genconfig`` or a release pipeline substitutes:
``${MODULES.name}``, ``${env:NAME}``, ``$CONTAINER_REGISTRY``, ``<Container_Registry>/...``.
Judged as they are, they read as unpinned images from unknown registries; the gate reports the
template once instead. Values under ``registryCredentials`` are skipped: the credentials are
substituted at deployment and never belong in a committed manifest, and no rule reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sealgate.inputs._model import FieldPath

# ${...} (iotedgedev, Azure Pipelines), $NAME in capitals (environment expansion; the IoT Edge
# keywords $edgeAgent, $edgeHub, $upstream are lower case) and <Name> (documentation samples).
PLACEHOLDER = re.compile(
    r"\$\{[^}\s]*\}|\$[A-Z_][A-Z0-9_]*(?![A-Za-z0-9_])|<[A-Za-z][A-Za-z0-9_.-]*>"
)
_CREDENTIALS = "registryCredentials"


@dataclass(frozen=True)
class Placeholder:
    """The first placeholder of one string value and the manifest path of that value."""

    value: str
    path: FieldPath


def find_placeholders(root: Any) -> list[Placeholder]:
    """Every string value of the manifest holding a placeholder, in document order."""
    found: list[Placeholder] = []
    stack: list[tuple[FieldPath, Any]] = [((), root)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            match = PLACEHOLDER.search(value)
            if match is not None:
                found.append(Placeholder(match.group(0), path))
        elif isinstance(value, dict):
            children = [
                ((*path, key), child)
                for key, child in value.items()
                if _CREDENTIALS not in str(key).split(".")
            ]
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([((*path, i), child) for i, child in enumerate(value)]))
    return found


def dotted(path: FieldPath) -> str:
    return ".".join(str(part) for part in path)
