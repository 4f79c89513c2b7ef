"""The preview files of tests/data/previews are those of the platform as it is now."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

from tests.infra.conftest import REPO

PREVIEWS = REPO / "tests" / "data" / "previews"


def test_preview_files_match_the_platform(plans: dict[str, dict[str, Any]]) -> None:
    spec = importlib.util.spec_from_file_location("make_previews", PREVIEWS / "make_previews.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = [
        name
        for name, preview in module.build(plans["prod"]).items()
        if json.loads((PREVIEWS / name).read_text(encoding="utf-8")) != preview
    ]
    assert stale == [], (
        f"{', '.join(stale)} differ from the platform's previews: "
        "run `PYTHONPATH=pipeline python tests/data/previews/make_previews.py`"
    )
