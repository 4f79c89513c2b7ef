"""ONNX external data: tensors whose bytes live in another file, named by ``location``.

Read from the protobuf wire format (onnx.proto3) without the ``onnx`` package: only the
messages that can hold a tensor are followed (ModelProto.graph, functions, training_info;
GraphProto.node, initializer, sparse_initializer; NodeProto.attribute; AttributeProto.t,
g, tensors, graphs, sparse_tensor, sparse_tensors; FunctionProto.node; SparseTensorProto
values and indices). A location that is absolute or climbs out of the model directory makes
the runtime read any file on the host as weights.
"""

from __future__ import annotations

import mmap
import posixpath
from collections.abc import Iterator
from typing import IO

from sealgate.scanning._results import ScanFinding, finding

MAX_DEPTH = 64
MAX_REPORTED = 16

# message -> {field number: message type of that (length-delimited) field}
_SCHEMA: dict[str, dict[int, str]] = {
    "model": {7: "graph", 25: "function", 20: "training"},
    "training": {1: "graph", 2: "graph"},
    "function": {7: "node"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "tensor": {13: "entry"},
    "entry": {},
}


class WireError(ValueError):
    pass


def _varint(data: memoryview, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if offset >= len(data) or shift > 63:
            raise WireError("truncated or overlong varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7


def _fields(data: memoryview) -> Iterator[tuple[int, int, memoryview | int]]:
    """(field number, wire type, value) of one message; sub-messages as views (no copy)."""
    offset = 0
    while offset < len(data):
        key, offset = _varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = _varint(data, offset)
            yield number, wire, value
        elif wire == 1 or wire == 5:
            offset += 8 if wire == 1 else 4
            if offset > len(data):
                raise WireError("truncated fixed-size field")
        elif wire == 2:
            size, offset = _varint(data, offset)
            if offset + size > len(data):
                raise WireError("length-delimited field runs past its message")
            yield number, wire, data[offset : offset + size]
            offset += size
        else:
            raise WireError(f"unsupported wire type {wire}")


def _entry(data: memoryview) -> tuple[str, str]:
    key = value = ""
    for number, wire, raw in _fields(data):
        if wire == 2 and isinstance(raw, memoryview):
            text = bytes(raw).decode("utf-8", "replace")
            if number == 1:
                key = text
            elif number == 2:
                value = text
    return key, value


def external_locations(data: memoryview, kind: str = "model", depth: int = 0) -> Iterator[str]:
    if depth > MAX_DEPTH:
        raise WireError("messages nested too deeply")
    children = _SCHEMA[kind]
    for number, wire, raw in _fields(data):
        child = children.get(number)
        if child is None or wire != 2 or not isinstance(raw, memoryview):
            continue
        if child == "entry":
            key, value = _entry(raw)
            if key == "location":
                yield value
        else:
            yield from external_locations(raw, child, depth + 1)


def location_problem(model_path: str, location: str) -> str | None:
    """Why ``location`` (relative to the model file's directory) leaves the model, if it does."""
    if not location or "\x00" in location:
        return "is empty or has a NUL byte"
    if location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        return "is an absolute path"
    joined = posixpath.normpath(
        posixpath.join(posixpath.dirname(model_path), location.replace("\\", "/"))
    )
    if joined == ".." or joined.startswith("../"):
        return "resolves outside the model directory"
    return None


def scan_onnx(data: IO[bytes], model_path: str, model_files: frozenset[str]) -> list[ScanFinding]:
    found: list[ScanFinding] = []
    problem: str | None = None
    locations: list[str] = []
    try:
        with mmap.mmap(data.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                locations = sorted(set(external_locations(view)))
            except WireError as exc:
                problem = str(exc)  # leaving the handler drops the views the parser held
            view.release()
    except (ValueError, OSError) as exc:  # an empty file cannot be mapped
        problem = str(exc)
    if problem is not None:
        return [finding("onnx-malformed", "high", f"not a readable ONNX protobuf: {problem}")]
    for location in locations[:MAX_REPORTED]:
        problem = location_problem(model_path, location)
        if problem:
            found.append(
                finding(
                    "onnx-external-data-outside",
                    "critical",
                    f"external data location {location!r} {problem}: the runtime would read "
                    "that file as weights",
                )
            )
            continue
        target = posixpath.normpath(posixpath.join(posixpath.dirname(model_path), location))
        if target not in model_files:
            found.append(
                finding(
                    "onnx-external-data-missing",
                    "medium",
                    f"external data location {location!r} is not a file of this model",
                )
            )
    return found
