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
# Keras 3 serializes a Python function (a Lambda's, or any callable argument) as bytecode
# under this class name, wherever it appears in the config.
LAMBDA_FUNCTION = "__lambda__"
MAX_DEPTH = 200
WINDOW = 1024 * 1024
_H5_LAMBDA = re.compile(rb'"class_name"\s*:\s*"(?:Lambda|__lambda__)"')
# JSON escapes hide a name from a byte search (``"Lamb\u0064a"``); Keras writes class names,
# modules and keys in plain ASCII, so an escape in one of them is refused, not decoded.
_H5_ESCAPED = re.compile(
    rb'"(?:class_name|module|registered_name)"\s*:\s*"[^"]{0,200}?\\u'
    rb'|"[^"]{0,200}?\\u[0-9a-fA-F]{4}[^"]{0,200}"\s*:'
)
_H5_MODULE = re.compile(rb'"module"\s*:\s*"([^"]{0,200})"')
_OVERLAP = 512


def _keras_module(module: object) -> bool:
    return isinstance(module, str) and (module == "keras" or module.startswith("keras."))


def _lambda_layers(node: Any, depth: int = 0, inside: bool = False) -> list[ScanFinding]:
    if depth > MAX_DEPTH:
        return [_lambda_finding("<config nested too deeply>")]
    found: list[ScanFinding] = []
    if isinstance(node, dict):
        class_name = node.get("class_name")
        if class_name in UNSAFE_LAYERS:
            config = node.get("config")
            name = config.get("name") if isinstance(config, dict) else None
            found.append(_lambda_finding(str(name or "unnamed")))
            inside = True
        elif class_name == LAMBDA_FUNCTION and not inside:
            found.append(_function_finding())
        if "module" in node and node["module"] is not None and not _keras_module(node["module"]):
            found.append(_module_finding(str(node["module"])))
        for value in node.values():
            found.extend(_lambda_layers(value, depth + 1, inside))
    elif isinstance(node, list):
        for value in node:
            found.extend(_lambda_layers(value, depth + 1, inside))
    return found


def _lambda_finding(layer: str) -> ScanFinding:
    return finding(
        "keras-lambda-layer",
        "critical",
        f"Lambda layer {layer!r}: Python bytecode that runs when the model is loaded",
        unsafe=True,
    )


def _function_finding() -> ScanFinding:
    return finding(
        "keras-lambda-function",
        "critical",
        "a function serialized as bytecode (__lambda__): it runs when the model is loaded",
        unsafe=True,
    )


def _module_finding(module: str) -> ScanFinding:
    return finding(
        "keras-foreign-module",
        "high",
        f"config names module {module[:80]!r}, not Keras: loading it imports that module",
        unsafe=True,
    )


def _escaped_finding() -> ScanFinding:
    return finding(
        "keras-escaped-name",
        "high",
        "model_config spells a class name, module or key with a JSON \\u escape, "
        "which hides it from the scan",
        unsafe=True,
    )


def scan_keras(data: IO[bytes]) -> list[ScanFinding]:
    try:
        config = read_json_entry(data, "config.json")
    except ArchiveError as exc:
        return [finding("keras-malformed", "high", f"not a Keras archive: {exc}")]
    return _lambda_layers(config)


def scan_h5(data: IO[bytes]) -> list[ScanFinding]:
    found: dict[str, ScanFinding] = {}
    tail = b""
    while block := data.read(WINDOW):
        window = tail + block
        if _H5_LAMBDA.search(window):
            found.setdefault("lambda", _lambda_finding("in model_config"))
        if _H5_ESCAPED.search(window):
            found.setdefault("escaped", _escaped_finding())
        for match in _H5_MODULE.finditer(window):
            module = match.group(1).decode("latin1")
            if not _keras_module(module):
                found.setdefault("module", _module_finding(module))
        tail = window[-_OVERLAP:]
    return list(found.values())
