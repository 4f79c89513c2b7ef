"""Report formats: one module per format, each a pure function GateResult -> text."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.errors import InputError
from pipeline.policy.decision import GateResult
from pipeline.report import github, json_report, junit, markdown, sarif, text

Renderer = Callable[[GateResult], str]

RENDERERS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_report.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "github": github.render,
}
FORMATS = tuple(RENDERERS)


def render(format_name: str, result: GateResult) -> str:
    try:
        renderer = RENDERERS[format_name]
    except KeyError:
        raise InputError(
            f"unknown report format {format_name!r}: choose from {', '.join(FORMATS)}"
        ) from None
    return renderer(result)
