"""How commands write: reports atomically, JSON or one-line summaries, progress bars."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sealgate._files import replace_file
from sealgate.errors import InputError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from sealgate.policy._decision import GateResult


def write_atomically(path: Path, text: str) -> None:
    """Write a report so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        replace_file(path, text.encode("utf-8"), fsync=False)
    except OSError as exc:
        raise InputError(f"{path}: cannot write report: {exc.strerror or exc}") from exc


def emit_reports(
    result: GateResult, formats: tuple[str, ...], outputs: tuple[Path, ...], *, quiet: bool = False
) -> None:
    """Render every format before writing any; ``quiet`` keeps only the verdict line of a
    text report on standard output."""
    from sealgate.report import render

    formats = formats or ("text",)
    if len(outputs) > len(formats):
        raise click.UsageError("more --output than --format options")
    to_stdout = formats[len(outputs) :]
    if len(to_stdout) > 1:
        raise click.UsageError("only one --format may go to standard output; add --output FILE")
    rendered = [render(name, result) for name in formats]  # render all before writing any
    for text, path in zip(rendered, outputs, strict=False):
        write_atomically(path, text)
    if to_stdout:
        text = rendered[-1]
        if quiet and to_stdout[0] == "text":
            text = text.rstrip("\n").rsplit("\n", 1)[-1] + "\n"
        click.echo(text, nl=False)


def progress_enabled(json_output: bool) -> bool:
    return not json_output and sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"


class ProgressBars:
    """Draws one rich progress bar per phase on stderr; a no-op when not on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> ProgressBars:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=total)
        self._progress.update(self._tasks[phase], completed=done, total=total)


def emit_summary(
    summary: dict[str, object], json_output: bool, line: str, err: bool = False
) -> None:
    import json

    if json_output:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        click.echo(line, err=err)


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
