"""Keras models: a ``Lambda`` layer carries marshalled Python bytecode that runs when the
model is loaded with ``safe_mode=False`` (and in Keras 2 always).

``.keras`` (Keras 3) is a zip whose ``config.json`` is the model config. A legacy ``.h5``
stores the same config as the ``model_config`` attribute, a JSON string kept as is inside
the HDF5 file; without an HDF5 library the file is searched for a Lambda layer's
``class_name`` in bounded windows, which finds it wherever the attribute is stored
uncompressed (as Keras writes it).
"""

from __future__ import annotations

import re
from typing import IO, Any

from sealgate.scanning._archives import ArchiveError, read_json_entry
from sealgate.scanning._results import ScanFinding, finding

UNSAFE_LAYERS = frozenset({"Lambda"})
MAX_DEPTH = 200
WINDOW = 1024 * 1024
_H5_LAMBDA = re.compile(rb'"class_name"\s*:\s*"Lambda"')
_OVERLAP = 64


def _lambda_layers(node: Any, depth: int = 0) -> list[str]:
    if depth > MAX_DEPTH:
        return ["<config nested too deeply>"]
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("class_name") in UNSAFE_LAYERS:
            config = node.get("config")
            name = config.get("name") if isinstance(config, dict) else None
            found.append(str(name or "unnamed"))
        for value in node.values():
            found.extend(_lambda_layers(value, depth + 1))
    elif isinstance(node, list):
        for value in node:
            found.extend(_lambda_layers(value, depth + 1))
    return found


def _lambda_finding(layer: str) -> ScanFinding:
    return finding(
        "keras-lambda-layer",
        "critical",
        f"Lambda layer {layer!r}: Python bytecode that runs when the model is loaded",
        unsafe=True,
    )


def scan_keras(data: IO[bytes]) -> list[ScanFinding]:
    try:
        config = read_json_entry(data, "config.json")
    except ArchiveError as exc:
        return [finding("keras-malformed", "high", f"not a Keras archive: {exc}")]
    return [_lambda_finding(layer) for layer in _lambda_layers(config)]


def scan_h5(data: IO[bytes]) -> list[ScanFinding]:
    tail = b""
    while block := data.read(WINDOW):
        window = tail + block
        if _H5_LAMBDA.search(window):
            return [_lambda_finding("in model_config")]
        tail = window[-_OVERLAP:]
    return []
