"""A report format's module is loaded only when that format is rendered."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sealgate.errors import InputError
from sealgate.report import FORMATS, render, renderer

from tests.conftest import REPO


def test_rendering_json_loads_neither_the_xml_library_nor_the_version_parser() -> None:
    script = (
        "import sys\n"
        "from sealgate.policy._decision import GateResult\n"
        "from sealgate.report import render\n"
        "render('json', GateResult(rules={}, engine='embedded'))\n"
        "print(sorted(m for m in ('xml.etree.ElementTree', 'semver', 'sealgate.report._junit',"
        " 'sealgate.report._sarif', 'sealgate.report._json_report') if m in sys.modules))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "pipeline")},
    ).stdout.strip()
    assert shown == "['sealgate.report._json_report']"


def test_every_format_has_a_renderer_and_an_unknown_one_is_an_input_error() -> None:
    assert all(callable(renderer(name)) for name in FORMATS)
    with pytest.raises(InputError, match="unknown report format 'yaml': choose from text, json"):
        render("yaml", None)  # type: ignore[arg-type]
