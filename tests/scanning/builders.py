"""Model files for the scanner tests, built byte by byte; none of them is ever loaded.

The malicious ones carry a pickle whose ``__reduce__`` calls ``os.system`` (``pickle.dumps``
only records the call), a Keras Lambda layer, or ONNX external data outside the model.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path


class _RunsCommand:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned > /tmp/pwned",))


def malicious_pickle(protocol: int = 2) -> bytes:
    return pickle.dumps({"weights": [0.5, 1.5], "hook": _RunsCommand()}, protocol=protocol)


def benign_pickle(protocol: int = 2) -> bytes:
    return pickle.dumps({"weights": [0.5, 1.5], "classes": ("cat", "dog")}, protocol=protocol)


def _text(value: str) -> bytes:
    raw = value.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


# A state dict as torch.save writes it: an OrderedDict of one tensor whose storage is a
# persistent id (data/0 in the archive), rebuilt by torch._utils._rebuild_tensor_v2.
TORCH_STATE_DICT = (
    b"\x80\x02ccollections\nOrderedDict\nq\x00)R"
    + _text("weight")
    + b"ctorch._utils\n_rebuild_tensor_v2\n("
    + b"("
    + _text("storage")
    + b"ctorch\nFloatStorage\n"
    + _text("0")
    + _text("cpu")
    + b"K\x04tQ"
    + b"K\x00K\x04\x85K\x01\x85\x89ccollections\nOrderedDict\n)Rt"
    + b"Rs."
)


def torch_checkpoint(data_pkl: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/data/0", struct.pack("<4f", 1, 2, 3, 4))
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


def _npy(descr: str, shape: tuple[int, ...], body: bytes) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


def benign_npy() -> bytes:
    return _npy("<f4", (4,), struct.pack("<4f", 1, 2, 3, 4))


def object_npy(payload: bytes) -> bytes:
    """An object array: numpy stores it as a pickle after the header."""
    return _npy("|O", (1,), payload)


def npz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _keras_config(layers: list[dict[str, object]]) -> str:
    return json.dumps(
        {
            "module": "keras",
            "class_name": "Sequential",
            "config": {"name": "sequential", "layers": layers},
        }
    )


DENSE = {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 4}}
LAMBDA = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "config": {
        "name": "l",
        # marshalled bytecode of the function, as Keras 3 stores a lambda
        "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}},
    },
}


def keras_archive(layers: list[dict[str, object]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        archive.writestr("config.json", _keras_config(layers))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(56))
    return buffer.getvalue()


def keras_h5(layers: list[dict[str, object]]) -> bytes:
    """The shape of a legacy Keras .h5: the HDF5 signature, and the model config as a JSON
    attribute string stored as is (a real file has the HDF5 object headers around it)."""
    config = _keras_config(layers).encode()
    return b"\x89HDF\r\n\x1a\n" + bytes(88) + b"model_config\x00" + config + bytes(64)


def safetensors(header: dict[str, object], body: bytes, pad: bool = True) -> bytes:
    raw = json.dumps(header).encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def benign_safetensors() -> bytes:
    return safetensors(
        {
            "__metadata__": {"format": "pt"},
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F16", "shape": [2, 2], "data_offsets": [8, 16]},
        },
        bytes(16),
    )


# --- ONNX: protobuf wire format by hand (ModelProto.graph = 7, GraphProto.initializer = 5,
# TensorProto.name = 8, external_data = 13, data_location = 14; entries key = 1, value = 2)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _enum(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def onnx_model(locations: list[str], *, in_subgraph: bool = False) -> bytes:
    tensors = b"".join(
        _field(
            5,
            _enum(2, 1)  # data_type FLOAT
            + _field(8, f"w{i}".encode())
            + _field(13, _field(1, b"location") + _field(2, location.encode()))
            + _field(13, _field(1, b"length") + _field(2, b"16"))
            + _enum(14, 1),  # EXTERNAL
        )
        for i, location in enumerate(locations)
    )
    graph = _field(2, b"main") + tensors
    if in_subgraph:
        # the tensors live in the body of an If node's then_branch (AttributeProto.g = 6)
        attribute = _field(1, b"then_branch") + _field(6, graph) + _enum(20, 5)
        node = _field(4, b"If") + _field(5, attribute)
        graph = _field(2, b"main") + _field(1, node)
    return _enum(1, 9) + _field(2, b"sealgate-tests") + _field(7, graph)  # ir_version 9


def write(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
