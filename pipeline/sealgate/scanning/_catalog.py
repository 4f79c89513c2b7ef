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
            "The pickle cannot be followed to its end; a loader may still run what precedes "
            "the damage.",
            "Rebuild the file from its source; do not ship a damaged pickle.",
        ),
        ScanRule(
            "pickle-too-large",
            "Pickle stream over the scan limit",
            "A pickle (raw, joblib or a pre-zip PyTorch checkpoint) is larger than the scan reads "
            "(1 GiB), so it was not shown to be safe.",
            _SAFE_FORMAT,
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
