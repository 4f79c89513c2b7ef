"""Evasions of the scan, replayed: each file is built by hand and never loaded."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.scanning import scan_files
from sealgate.sealing._paths import walk_model

from tests.scanning import builders as b
from tests.scanning.test_formats import ids, scan_one

EVIL = b.malicious_pickle()
# The unpickler reads I0x1 with int(s, 0); pickletools.genops refuses it, so picklescan saw
# no import at all and reported nothing.
HEXINT = b"\x80\x02I0x1\n0cos\nsystem\n(S'echo PWNED'\ntR."


def _unsafe_ids(found) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.id for f in found.findings if f.unsafe]


@pytest.mark.parametrize("name", ["model.pkl", "weights.pt", "model.joblib", "legacy.bin"])
def test_a_pickle_genops_cannot_follow_is_malformed_and_unsafe(tmp_path: Path, name: str) -> None:
    found = scan_one(tmp_path, name, HEXINT)
    [malformed] = [f for f in found.findings if f.id == "pickle-malformed"]
    assert (malformed.severity, malformed.unsafe) == ("critical", True)


@pytest.mark.parametrize(
    "data",
    [EVIL[:-1], b.benign_pickle()[:-1], b.benign_pickle() + b"\x00garbage"],
    ids=["evil-no-stop", "no-stop", "trailing-bytes"],
)
def test_a_pickle_that_does_not_end_in_stop_is_unsafe(tmp_path: Path, data: bytes) -> None:
    assert "pickle-malformed" in _unsafe_ids(scan_one(tmp_path, "model.pkl", data))


COMPRESSORS = {
    "zlib": zlib.compress,
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("name", ["model.joblib", "model.pkl.gz", "model.pkl"])
def test_compressed_pickles_are_decompressed_and_scanned(
    tmp_path: Path, kind: str, name: str
) -> None:
    compress = COMPRESSORS[kind]
    evil = scan_one(tmp_path / "evil", name, compress(EVIL))
    assert evil.format in ("pickle", "joblib") and ids(evil) == ["pickle-unsafe-global"]
    clean = scan_one(tmp_path / "clean", name, compress(b.benign_pickle(4)))
    assert ids(clean) == []


def test_a_compressed_pickle_is_bounded_and_lz4_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealgate.scanning import _pickles

    lz4 = scan_one(tmp_path / "a", "model.joblib", b"\x04\x22\x4d\x18" + bytes(32))
    assert _unsafe_ids(lz4) == ["pickle-compressed"]
    two_members = gzip.compress(b.benign_pickle()) + gzip.compress(EVIL)
    assert _unsafe_ids(scan_one(tmp_path / "b", "m.pkl.gz", two_members)) == ["pickle-compressed"]
    monkeypatch.setattr(_pickles, "MAX_DECOMPRESSED", 4096)
    bomb = zlib.compress(b"\x80\x02" + b"N0" * 100_000 + b".")
    assert _unsafe_ids(scan_one(tmp_path / "c", "model.joblib", bomb)) == ["pickle-too-large"]


@pytest.mark.parametrize("protocol", [0, 1])
@pytest.mark.parametrize("name", ["p.bin", "p.pt", "model", "weights.dat", "p.ckpt"])
def test_protocol_0_and_1_pickles_are_pickles_under_any_name(
    tmp_path: Path, protocol: int, name: str
) -> None:
    found = scan_one(tmp_path, name, b.malicious_pickle(protocol))
    assert found.format in ("pickle", "pytorch-legacy")
    assert "pickle-unsafe-global" in _unsafe_ids(found)


def test_a_torch_name_that_holds_no_pickle_is_a_finding(tmp_path: Path) -> None:
    found = scan_one(tmp_path, "pytorch_model.bin", bytes(range(256)) * 4)
    assert found.format == "pytorch-legacy" and _unsafe_ids(found) == ["pickle-malformed"]


def test_text_that_starts_like_an_opcode_is_not_a_pickle(tmp_path: Path) -> None:
    assert scan_one(tmp_path, "NOTES", b"I think these weights are fine.\n").format == "other"


def test_a_pickle_too_long_to_walk_under_another_name_is_not_waved_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealgate.scanning import _pickles, _scan

    monkeypatch.setattr(_scan, "MAX_PICKLE_BYTES", 64)
    monkeypatch.setattr(_pickles, "MAX_PICKLE_BYTES", 64)
    found = scan_one(tmp_path, "weights.dat", b"(" + b"N" * 200 + b"cos\nsystem\n.")
    assert found.format == "pickle" and _unsafe_ids(found) == ["pickle-too-large"]


def test_a_tar_format_torch_checkpoint_is_flagged(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("pickle")
        info.size = len(EVIL)
        archive.addfile(info, io.BytesIO(EVIL))
    found = scan_one(tmp_path, "old.pt", buffer.getvalue())
    assert found.format == "pytorch-tar" and _unsafe_ids(found) == ["pytorch-tar-checkpoint"]


def _npy(descr: str, body: bytes) -> bytes:
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}".encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


@pytest.mark.parametrize(
    "descr",
    ["'O'", "'|O'", "'O8'", "'|O8'", "'object'", "'OBJECT'", "('|O', (1,))",
     "[('a', ('|O', (1,)))]", "[('a', '<f4'), ('b', '|O')]", "'i4,O'"],
)  # fmt: skip
def test_every_spelling_of_an_object_dtype_is_an_object_array(tmp_path: Path, descr: str) -> None:
    found = scan_one(tmp_path, "arr.npy", _npy(descr, EVIL))
    assert ids(found) == ["numpy-object-array", "pickle-unsafe-global"]


@pytest.mark.parametrize("descr", ["'<f4'", "('<f4', (2,))", "[('a', '<f4'), ('b', '<M8[ns]')]"])
def test_plain_dtypes_are_not_object_arrays(tmp_path: Path, descr: str) -> None:
    assert ids(scan_one(tmp_path, "arr.npy", _npy(descr, bytes(8)))) == []


def test_npz_members_are_read_by_their_magic_not_their_name(tmp_path: Path) -> None:
    found = scan_one(tmp_path, "a.npz", b.npz({"arr": b.object_npy(EVIL), "notes.txt": b"hi"}))
    assert ids(found) == ["numpy-object-array", "pickle-unsafe-global"]
    assert found.findings[0].message.startswith("arr: ")


def test_a_keras_function_outside_a_lambda_layer_and_a_foreign_module_are_unsafe(
    tmp_path: Path,
) -> None:
    layer = {
        "module": "keras.layers",
        "class_name": "Activation",
        "config": {
            "name": "a",
            "activation": {"class_name": "__lambda__", "config": {"code": "4w"}},
        },
    }
    foreign = {"module": "os", "class_name": "system", "config": {"name": "x"}}
    found = scan_one(tmp_path, "model.keras", b.keras_archive([b.DENSE, layer, foreign]))
    assert _unsafe_ids(found) == ["keras-lambda-function", "keras-foreign-module"]
    assert ids(scan_one(tmp_path / "lambda", "model.keras", b.keras_archive([b.LAMBDA]))) == [
        "keras-lambda-layer"
    ]


def test_a_json_escape_in_an_h5_class_name_does_not_hide_a_lambda(tmp_path: Path) -> None:
    h5 = b.keras_h5([b.DENSE, b.LAMBDA]).replace(b'"Lambda"', b'"Lamb\\u0064a"')
    h5 = h5.replace(b'"__lambda__"', b'"__l\\u0061mbda__"')
    assert b'"Lambda"' not in h5
    assert _unsafe_ids(scan_one(tmp_path / "a", "model.h5", h5)) == ["keras-escaped-name"]
    key = b.keras_h5([b.LAMBDA]).replace(b'"class_name": "Lambda"', b'"class_n\\u0061me": "Lambda"')
    assert "keras-escaped-name" in _unsafe_ids(scan_one(tmp_path / "b", "model.h5", key))
    foreign = b.keras_h5([{"module": "subprocess", "class_name": "Popen", "config": {}}])
    assert _unsafe_ids(scan_one(tmp_path / "c", "model.h5", foreign)) == ["keras-foreign-module"]


def test_a_file_rewritten_in_place_with_its_mtime_restored_is_caught(tmp_path: Path) -> None:
    root = b.write(tmp_path / "model", {"model.pkl": b.benign_pickle()})
    path = root / "model.pkl"
    scanned = scan_files(root, walk_model(root))
    before = path.stat()
    evil = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R"
    evil += b"N0" * ((before.st_size - len(evil) - 1) // 2)
    evil += b"N" * (before.st_size - len(evil) - 1) + b"."
    assert len(evil) == before.st_size
    with path.open("r+b") as handle:  # same inode, same size
        handle.write(evil)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the owner restores mtime
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(InputError, match="changed after it was scanned"):
        scanned.check_unchanged()


def _with_method(archive: bytes, method: int) -> bytes:
    data = bytearray(archive)
    data[8:10] = struct.pack("<H", method)  # the local header of the first entry
    central = data.index(b"PK\x01\x02")
    data[central + 10 : central + 12] = struct.pack("<H", method)
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "members"),
    [("model.pt", {"archive/data.pkl": EVIL}), ("arrs.npz", {"a.npy": b.object_npy(EVIL)})],
)
def test_an_unsupported_zip_compression_is_an_unsafe_finding(
    tmp_path: Path, name: str, members: dict[str, bytes]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    found = scan_one(tmp_path, name, _with_method(buffer.getvalue(), 9))  # deflate64
    assert _unsafe_ids(found) == ["archive-unsupported"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b.malicious_pickle(0), {"posix.system"}),  # GLOBAL (os.system pickles as posix)
        (b.malicious_pickle(4), {"posix.system"}),  # STACK_GLOBAL of memoized strings
        # STACK_GLOBAL through BINPUT/BINGET: the module comes from the memo
        (b"\x80\x04\x8c\x02os\x94q\x01\x8c\x06system\x94h\x01\x8c\x06system\x93.", {"os.system"}),
        # a module that is not a string: unknown, which picklescan calls dangerous
        (b"\x80\x04K\x01\x8c\x06system\x93.", {"unknown.system"}),
    ],
    ids=["global", "stack-global", "memo", "not-a-string"],
)
def test_the_walk_alone_lists_the_imports_of_a_stream_picklescan_does_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, expected: set[str]
) -> None:
    from sealgate.scanning import _pickles

    monkeypatch.setattr(_pickles, "MAX_PICKLESCAN_BYTES", 0)
    found = scan_one(tmp_path, "model.pkl", data)
    unsafe = {f.message.split("imports ")[1].split(",")[0] for f in found.findings if f.unsafe}
    assert expected <= unsafe
    assert all(f.id in ("pickle-unsafe-global", "pickle-unknown-global") for f in found.findings)


@pytest.mark.parametrize("name", ["arr.npy", "arrs.npz"])
def test_a_pickle_named_like_numpy_is_a_pickle(tmp_path: Path, name: str) -> None:
    # numpy.load(allow_pickle=True) unpickles a file with neither the zip nor the .npy magic
    found = scan_one(tmp_path, name, EVIL)
    assert found.format == "pickle" and ids(found) == ["pickle-unsafe-global"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("model.pt", b.torch_checkpoint(HEXINT)),
        ("arr.npy", b.object_npy(HEXINT)),
        ("arrs.npz", b.npz({"a.npy": b.object_npy(HEXINT)})),
    ],
)
def test_an_unfollowable_pickle_inside_a_container_is_malformed(
    tmp_path: Path, name: str, data: bytes
) -> None:
    assert "pickle-malformed" in _unsafe_ids(scan_one(tmp_path, name, data))
