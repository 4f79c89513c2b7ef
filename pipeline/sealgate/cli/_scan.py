"""``sealgate scan``: what loading each file of a model directory would run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sealgate.cli._app import cli
from sealgate.errors import ExitCode
from sealgate.scanning import ModelScan


def scan_blocks(scan: ModelScan) -> bool:
    """Exit 1 for ``scan``: a callable that runs on load, or a critical finding."""
    return any(item.unsafe or item.severity == "critical" for _, item in scan.findings)


def scan_summary(scan: ModelScan | None) -> str:
    """One line for ``seal`` and ``verify``."""
    if scan is None:
        return "no scan (sealed before sealgate scanned models)"
    counts = scan.counts()
    found = ", ".join(f"{n} {severity}" for severity, n in counts.items() if n) or "no findings"
    unsafe = "; UNSAFE: runs code when loaded" if scan.unsafe else ""
    return f"scan ({scan.scanner} {scan.scanner_version}): {len(scan.files)} files, {found}{unsafe}"


def scan_lines(scan: ModelScan | None) -> str:
    """The summary line, then one line per finding (``verify``)."""
    if scan is None:
        return scan_summary(scan)
    lines = [
        f"  {path} [{item.severity}] {item.id}: {item.message}" for path, item in scan.findings
    ]
    return "\n".join([scan_summary(scan), *lines])


def scan_table(scan: ModelScan) -> str:
    rows = [("FILE", "FORMAT", "SEVERITY", "FINDING", "MESSAGE")]
    for file in scan.files:
        if not file.findings:
            rows.append((file.path, file.format, "-", "-", "no findings"))
        for item in file.findings:
            rows.append((file.path, file.format, item.severity, item.id, item.message))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
             for row in rows]  # fmt: skip
    return "\n".join([*lines, scan_summary(scan)])


@cli.command("scan")
@click.argument(
    "model_dir", type=click.Path(path_type=Path, exists=True, file_okay=False, dir_okay=True)
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "sarif"]),
    default="table",
    show_default=True,
    help="table for a terminal; json; sarif (SARIF 2.1.0 for code scanning).",
)
def scan(model_dir: Path, output_format: str) -> None:
    """Scan every file of MODEL_DIR as `seal` does, without loading any of them.

    Reports per file its format and what loading it would run: pickle imports (raw, joblib,
    PyTorch checkpoints, NumPy object arrays), Keras Lambda layers, ONNX external data
    outside the directory, safetensors header sanity. Exit 1 on an unsafe or critical
    finding, 2 on an input error.
    """
    from sealgate.scanning import scan_model

    result = scan_model(model_dir)
    if output_format == "json":
        document = {"model_dir": str(model_dir), **result.to_json()}
        document |= {"counts": result.counts(), "unsafe": result.unsafe}
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    elif output_format == "sarif":
        from sealgate.report import _sarif
        from sealgate.report._scan_report import scan_result

        click.echo(_sarif.render(scan_result(result, model_dir)), nl=False)
    else:
        click.echo(scan_table(result))
    sys.exit(int(ExitCode.DENIED if scan_blocks(result) else ExitCode.OK))
