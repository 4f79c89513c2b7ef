"""Report formats: one module per format, each a pure function GateResult -> text.

A format's module is imported when that format is rendered: a run that writes JSON never
loads the XML library (JUnit) or the version parser (SARIF).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from sealgate.errors import InputError
from sealgate.policy._decision import GateResult

Renderer = Callable[[GateResult], str]

# format name -> the module of this package whose ``render`` produces it
MODULES: dict[str, str] = {
    "text": "_text",
    "json": "_json_report",
    "sarif": "_sarif",
    "junit": "_junit",
    "markdown": "_markdown",
    "github": "_github",
    "azuredevops": "_azure_devops",
}
FORMATS = tuple(MODULES)


def renderer(format_name: str) -> Renderer:
    """The render function of a format; InputError naming the formats for an unknown one."""
    try:
        module = MODULES[format_name]
    except KeyError:
        raise InputError(
            f"unknown report format {format_name!r}: choose from {', '.join(FORMATS)}"
        ) from None
    function: Renderer = import_module(f"{__name__}.{module}").render
    return function


def render(format_name: str, result: GateResult) -> str:
    return renderer(format_name)(result)
