"""Each format, malicious and benign: the findings a scan reports, and that it loads nothing."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.scanning import scan_model

from tests.scanning import builders as b

EVIL = b.malicious_pickle()
CLEAN_TORCH = b.torch_checkpoint(b.TORCH_STATE_DICT)
EVIL_TORCH = b.torch_checkpoint(EVIL)


def scan_one(tmp_path: Path, name: str, data: bytes, extra: dict[str, bytes] | None = None):  # type: ignore[no-untyped-def]
    root = b.write(tmp_path / "model", {name: data, **(extra or {})})
    return {f.path: f for f in scan_model(root).files}[name]


def ids(file_scan) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.id for f in file_scan.findings]


MALICIOUS = {
    "model.pkl": (EVIL, "pickle", ["pickle-unsafe-global"]),
    "model.pickle": (b.malicious_pickle(0), "pickle", ["pickle-unsafe-global"]),
    "model.joblib": (b.malicious_pickle(4), "joblib", ["pickle-unsafe-global"]),
    "model.pt": (EVIL_TORCH, "pytorch", ["pickle-unsafe-global"]),
    "model.pth": (EVIL_TORCH, "pytorch", ["pickle-unsafe-global"]),
    "pytorch_model.bin": (EVIL_TORCH, "pytorch", ["pickle-unsafe-global"]),
    # a legacy (pre-zip) torch.save: magic number, protocol, sys info, then the object
    "legacy.pt": (
        pickle.dumps(0x1950A86A20F9469CFC6C, 2)
        + pickle.dumps(1001, 2)
        + pickle.dumps({}, 2)
        + EVIL,
        "pytorch-legacy",
        ["pickle-unsafe-global"],
    ),
    "arr.npy": (b.object_npy(EVIL), "numpy", ["numpy-object-array", "pickle-unsafe-global"]),
    "arrs.npz": (
        b.npz({"a.npy": b.benign_npy(), "b.npy": b.object_npy(EVIL)}),
        "npz",
        ["numpy-object-array", "pickle-unsafe-global"],
    ),
    "model.keras": (b.keras_archive([b.DENSE, b.LAMBDA]), "keras", ["keras-lambda-layer"]),
    "model.h5": (b.keras_h5([b.DENSE, b.LAMBDA]), "keras-h5", ["keras-lambda-layer"]),
    "model.onnx": (b.onnx_model(["../../etc/passwd"]), "onnx", ["onnx-external-data-outside"]),
    "weights": (EVIL, "pickle", ["pickle-unsafe-global"]),  # a pickle under no known name
}

BENIGN = {
    "model.pkl": (b.benign_pickle(), "pickle"),
    "model.joblib": (b.benign_pickle(4), "joblib"),
    "model.pt": (CLEAN_TORCH, "pytorch"),
    "model.pth": (CLEAN_TORCH, "pytorch"),
    "pytorch_model.bin": (CLEAN_TORCH, "pytorch"),
    "arr.npy": (b.benign_npy(), "numpy"),
    "arrs.npz": (b.npz({"a.npy": b.benign_npy()}), "npz"),
    "model.keras": (b.keras_archive([b.DENSE]), "keras"),
    "model.h5": (b.keras_h5([b.DENSE]), "keras-h5"),
    "model.safetensors": (b.benign_safetensors(), "safetensors"),
    "config.json": (b'{"hidden_size": 8}', "other"),
    "raw-weights.dat": (bytes(range(256)) * 4, "other"),  # ONNX external data: plain bytes
}


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_malicious_files_are_reported(tmp_path: Path, name: str) -> None:
    data, fmt, expected = MALICIOUS[name]
    found = scan_one(tmp_path, name, data)
    assert found.format == fmt
    assert ids(found) == expected
    assert all(f.severity in ("critical", "high") for f in found.findings)


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_files_have_no_findings(tmp_path: Path, name: str) -> None:
    data, fmt = BENIGN[name]
    found = scan_one(tmp_path, name, data)
    assert (found.format, found.findings) == (fmt, ())


def test_scanning_never_runs_the_payload(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return (os.system, (f"touch {marker}",))

    evil = pickle.dumps(Payload(), 2)
    root = b.write(
        tmp_path / "model",
        {"a.pkl": evil, "b.pt": b.torch_checkpoint(evil), "c.npy": b.object_npy(evil)},
    )
    scan = scan_model(root)
    assert not marker.exists()
    assert [f.path for f in scan.files] == ["a.pkl", "b.pt", "c.npy"]
    assert scan.unsafe and scan.counts()["critical"] == 3


def test_a_pickle_importing_an_unlisted_callable_is_unsafe(tmp_path: Path) -> None:
    # sklearn's estimator class: on no allow list, imported and called when loaded
    unlisted = b"\x80\x02csklearn.tree._classes\nDecisionTreeClassifier\n)R."
    [found] = scan_one(tmp_path, "model.joblib", unlisted).findings
    assert (found.id, found.severity, found.unsafe) == ("pickle-unknown-global", "high", True)
    assert "sklearn.tree._classes.DecisionTreeClassifier" in found.message


def test_torch_checkpoint_pickles_other_than_data_pkl_are_scanned(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", b.TORCH_STATE_DICT)
        archive.writestr("archive/constants.pkl", EVIL)
    found = scan_one(tmp_path, "model.pt", buffer.getvalue())
    assert ids(found) == ["pickle-unsafe-global"]
    assert found.findings[0].message.startswith("archive/constants.pkl: ")


def test_a_broken_zip_is_reported_not_raised(tmp_path: Path) -> None:
    found = scan_one(tmp_path, "model.pt", b"PK\x03\x04" + bytes(40))
    assert ids(found) == ["archive-malformed"]


@pytest.mark.parametrize(
    ("locations", "subgraph", "expected"),
    [
        (["weights.bin"], False, []),
        (["sub/../weights.bin"], False, []),
        (["/etc/shadow"], False, ["onnx-external-data-outside"]),
        (["..\\..\\secrets"], False, ["onnx-external-data-outside"]),
        (["C:/Windows/win.ini"], False, ["onnx-external-data-outside"]),
        (["../../etc/passwd"], True, ["onnx-external-data-outside"]),  # in an If branch
        (["other.bin"], False, ["onnx-external-data-missing"]),
    ],
)
def test_onnx_external_data_locations(
    tmp_path: Path, locations: list[str], subgraph: bool, expected: list[str]
) -> None:
    data = b.onnx_model(locations, in_subgraph=subgraph)
    found = scan_one(tmp_path, "model.onnx", data, {"weights.bin": bytes(16)})
    assert ids(found) == expected


def test_onnx_in_a_subdirectory_may_not_climb_past_the_model(tmp_path: Path) -> None:
    inside = scan_one(tmp_path / "a", "sub/model.onnx", b.onnx_model(["../weights.bin"]),
                      {"weights.bin": bytes(16)})  # fmt: skip
    assert ids(inside) == []
    outside = scan_one(tmp_path / "b", "sub/model.onnx", b.onnx_model(["../../weights.bin"]))
    assert ids(outside) == ["onnx-external-data-outside"]


def test_truncated_onnx_is_malformed(tmp_path: Path) -> None:
    data = b.onnx_model(["weights.bin"])
    assert ids(scan_one(tmp_path, "model.onnx", data[:-5])) == ["onnx-malformed"]


def _tensor(dtype: str, shape: list[int], begin: int, end: int) -> dict[str, object]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b.safetensors({"a": _tensor("F32", [2], 0, 4096)}, bytes(8)), "safetensors-bad-offsets"),
        (b.safetensors({"a": _tensor("F32", [4], 0, 8)}, bytes(8)), "safetensors-bad-offsets"),
        (
            b.safetensors(
                {"a": _tensor("F32", [2], 0, 8), "b": _tensor("F32", [2], 4, 12)}, bytes(12)
            ),
            "safetensors-bad-offsets",
        ),  # overlap
        (b.safetensors({"a": _tensor("F32", [2], 0, 8)}, bytes(16)), "safetensors-bad-offsets"),
        (b.safetensors({"a": _tensor("F32", [-1], 0, 8)}, bytes(8)), "safetensors-bad-offsets"),
        (b.safetensors({"a": _tensor("Q7", [2], 0, 8)}, bytes(8)), "safetensors-bad-offsets"),
        (struct.pack("<Q", 2**40) + b"{}", "safetensors-malformed"),  # header past the file
        (struct.pack("<Q", 4) + b"[1]\n", "safetensors-malformed"),
        (struct.pack("<Q", 3) + b"{x}", "safetensors-malformed"),
        (b"\x01\x02", "safetensors-malformed"),
    ],
    ids=[
        "past-buffer",
        "size-mismatch",
        "overlap",
        "hole",
        "shape",
        "dtype",
        "length",
        "not-object",
        "not-json",
        "short",
    ],
)
def test_safetensors_header_sanity(tmp_path: Path, data: bytes, expected: str) -> None:
    [found] = scan_one(tmp_path, "model.safetensors", data).findings
    assert found.id == expected and found.severity == "medium" and not found.unsafe


def test_a_model_directory_with_a_symlink_is_an_input_error(tmp_path: Path) -> None:
    root = b.write(tmp_path / "model", {"a.pkl": b.benign_pickle()})
    (root / "link.pkl").symlink_to(root / "a.pkl")
    with pytest.raises(InputError):
        scan_model(root)


def test_a_pickle_over_the_scan_limit_is_not_read_and_is_unsafe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealgate.scanning import _scan

    monkeypatch.setattr(_scan, "MAX_PICKLE_FILE", 64)
    [found] = scan_one(tmp_path, "model.pkl", b.benign_pickle() + bytes(100)).findings
    assert (found.id, found.severity, found.unsafe) == ("pickle-too-large", "high", True)


@pytest.mark.parametrize("name", ["empty.bin", "empty.pt", "empty.pkl", "empty.npy", "empty"])
def test_an_empty_file_runs_nothing_whatever_its_name(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    (scanned,) = scan_model(tmp_path).files
    assert (scanned.format, scanned.findings) == ("empty", ())
