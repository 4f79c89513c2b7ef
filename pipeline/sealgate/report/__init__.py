"""Report formats: one module per format, each a pure function GateResult -> text."""

from __future__ import annotations

from collections.abc import Callable

from sealgate.errors import InputError
from sealgate.policy._decision import GateResult
from sealgate.report import _azure_devops as azure_devops
from sealgate.report import _github as github
from sealgate.report import _json_report as json_report
from sealgate.report import _junit as junit
from sealgate.report import _markdown as markdown
from sealgate.report import _sarif as sarif
from sealgate.report import _text as text

Renderer = Callable[[GateResult], str]

RENDERERS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_report.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "github": github.render,
    "azuredevops": azure_devops.render,
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
