"""What each scan finding id means, for reports (SARIF rules) and documentation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScanRule:
    id: str
    title: str
    description: str
    remediation: str


_SAFE_FORMAT = "Save the weights as safetensors (or ONNX without external paths) and seal that."

RULES: dict[str, ScanRule] = {
    rule.id: rule
    for rule in (
        ScanRule(
            "pickle-unsafe-global",
            "Pickle imports a dangerous callable",
            "A pickle stream (raw, joblib, inside a PyTorch checkpoint or a NumPy object array) "
            "imports a callable on picklescan's deny list, such as os.system or builtins.eval: "
            "loading the file runs it.",
            _SAFE_FORMAT,
        ),
        ScanRule(
            "pickle-unknown-global",
            "Pickle imports a callable on no allow list",
            "A pickle stream imports a callable that is neither known safe nor known dangerous; "
            "loading the file imports and may call it.",
            _SAFE_FORMAT,
        ),
        ScanRule(
            "pickle-malformed",
            "Pickle stream is malformed",
            "sealgate's own opcode walk cannot follow the stream to its STOP (an opcode "
            "pickletools does not read, a truncated stream, bytes after the last pickle, a "
            "non-pickle under a pickle or torch name): the unpickler may read imports that no "
            "scanner saw, so the file is unsafe.",
            "Rebuild the file from its source; do not ship a damaged pickle.",
        ),
        ScanRule(
            "pickle-too-large",
            "Pickle stream over the scan limit",
            "A pickle (raw, joblib or a pre-zip PyTorch checkpoint) is larger than the scan reads "
            "(1 GiB; 256 MiB decompressed), so it was not shown to be safe.",
            _SAFE_FORMAT,
        ),
        ScanRule(
            "pickle-compressed",
            "Compressed pickle that is not read",
            "A pickle compressed in a way the scan does not decompress (lz4), or with data "
            "after the end of its compressed stream: its imports were not seen.",
            "Save it uncompressed or with zlib, gzip, bz2 or xz compression.",
        ),
        ScanRule(
            "pytorch-tar-checkpoint",
            "Tar-format PyTorch checkpoint",
            "torch.load's oldest format, a tar of pickles, which the scan does not read.",
            "Load it once in a sandbox and save it again as safetensors.",
        ),
        ScanRule(
            "numpy-object-array",
            "NumPy object array",
            "An .npy array (or an .npz member) of Python objects is a pickle that "
            "numpy.load(allow_pickle=True) unpickles.",
            "Store numeric arrays only.",
        ),
        ScanRule(
            "numpy-malformed",
            "NumPy header is malformed",
            "The .npy header cannot be read.",
            "Write the array again with numpy.save.",
        ),
        ScanRule(
            "keras-lambda-layer",
            "Keras Lambda layer",
            "A Lambda layer stores marshalled Python bytecode that runs when the model is "
            "loaded (with safe_mode=False, and always in Keras 2).",
            "Replace the Lambda layer with a built-in or registered layer.",
        ),
        ScanRule(
            "keras-lambda-function",
            "Keras function stored as bytecode",
            "A function serialized as marshalled bytecode (class_name __lambda__) outside a "
            "Lambda layer: it runs when the model is loaded.",
            "Use built-in or registered functions only.",
        ),
        ScanRule(
            "keras-foreign-module",
            "Keras config names a module outside Keras",
            "An object in the model config comes from a module other than keras: loading the "
            "model imports it.",
            "Use built-in layers, or register custom objects and review their code.",
        ),
        ScanRule(
            "keras-escaped-name",
            "Keras .h5 config with an escaped name",
            "A class name, module or key in an .h5 model_config is spelled with a JSON \\u "
            "escape, which hides it from the scan's byte search.",
            "Save the model again with Keras.",
        ),
        ScanRule(
            "keras-malformed",
            "Keras archive is malformed",
            "The .keras archive has no readable config.json.",
            "Save the model again with model.save('model.keras').",
        ),
        ScanRule(
            "onnx-external-data-outside",
            "ONNX external data outside the model",
            "A tensor's external data location is absolute or climbs out of the model directory: "
            "the runtime reads any file on the host as weights.",
            "Keep external data files next to the model and name them by a relative path.",
        ),
        ScanRule(
            "onnx-external-data-missing",
            "ONNX external data file is not in the model",
            "A tensor names an external data file that is not part of the sealed model.",
            "Seal the external data files with the model.",
        ),
        ScanRule(
            "onnx-malformed",
            "ONNX protobuf is malformed",
            "The .onnx file is not a readable protobuf ModelProto.",
            "Export the model again.",
        ),
        ScanRule(
            "safetensors-malformed",
            "safetensors header is malformed",
            "The 8-byte header length or the JSON header does not follow the format.",
            "Write the file again with safetensors.",
        ),
        ScanRule(
            "safetensors-bad-offsets",
            "safetensors offsets do not match the buffer",
            "A tensor's data_offsets leave the buffer, disagree with its dtype and shape, "
            "overlap another tensor or leave unindexed bytes.",
            "Write the file again with safetensors.",
        ),
        ScanRule(
            "archive-malformed",
            "Zip container is malformed",
            "A PyTorch checkpoint, .npz or .keras archive, or one of its entries, cannot be read.",
            "Save the model again.",
        ),
        ScanRule(
            "archive-unsupported",
            "Zip entry with an unsupported compression method",
            "An entry of a PyTorch checkpoint or .npz is compressed with a method the scan does "
            "not read, so it was not shown to be safe.",
            "Save the model again (stored or deflate entries).",
        ),
        ScanRule(
            "archive-entry-too-large",
            "Archive entry over the scan limit",
            "An entry that a loader unpickles is larger than the scan reads, so it was not shown "
            "to be safe.",
            "Split the checkpoint or store the tensors as safetensors.",
        ),
        ScanRule(
            "scan-failed",
            "File could not be scanned",
            "The file could not be read in its format, so it was not shown to be safe.",
            "Check the file; rebuild it from its source.",
        ),
        ScanRule(
            "scan-truncated",
            "More findings than listed",
            "The file has more findings than a seal header records.",
            "Fix the listed findings and scan again.",
        ),
    )
}


def rule_for(finding_id: str) -> ScanRule:
    return RULES.get(
        finding_id, ScanRule(finding_id, finding_id, finding_id, "Check the model file.")
    )
