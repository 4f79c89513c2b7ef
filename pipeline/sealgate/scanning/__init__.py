"""Model scanning: what loading each file of a model would run, found without loading it.

Public surface: ``scan_model(model_dir)`` -> ``ModelScan``; ``scan_files(model_dir,
model_files)`` -> ``ScannedModel`` (the scan plus each file's identity, for ``seal``);
``parse_model_scan(raw, paths)`` for the signed header; ``scan_facts(scan | None)`` for the
promotion policy (``input.model.scan``); ``detect_format(path, head, data=None)`` (with
``data``, a file of no pickle name whose opcodes walk to STOP is a pickle).

``ModelScan``: ``scanner``/``scanner_version`` (picklescan), ``rules`` (sealgate's own
checks), ``files``: ``FileScan(path, format, findings, digests)``; a ``ScanFinding`` is
``(id, severity, unsafe, message)`` with severity one of ``SEVERITIES``; ``unsafe`` marks a
callable that runs when the file is loaded.
"""

from sealgate.scanning._results import (
    SEVERITIES,
    FileScan,
    ModelScan,
    ScanFinding,
    ScanFormatError,
    parse_model_scan,
    scan_facts,
)
from sealgate.scanning._scan import RULES, ScannedModel, detect_format, scan_files, scan_model

__all__ = [
    "RULES",
    "SEVERITIES",
    "FileScan",
    "ModelScan",
    "ScanFinding",
    "ScanFormatError",
    "ScannedModel",
    "detect_format",
    "parse_model_scan",
    "scan_facts",
    "scan_files",
    "scan_model",
]
