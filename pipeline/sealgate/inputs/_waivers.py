"""The waivers file as a policy input, with the date facts the waiver policy needs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._model import FieldPath, InputProblem, PolicyInput
from sealgate.inputs._structured import load_structured_documents

WAIVER_KIND = "waivers"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def today_utc() -> date:
    return datetime.now(UTC).date()


def waiver_input(path: Path, today: date) -> PolicyInput:
    """The waivers file as the waiver policy's input: ``{"waivers": [...], "today": ...}``.

    A file that is not a mapping is passed whole as ``waivers`` so the policy reports its shape.
    """
    documents = load_structured_documents(path)
    shown = display_path(path)
    if not documents:
        content: Any = {"waivers": []}
        lines: dict[FieldPath, int] = {}
    elif len(documents) > 1:
        content, lines = {"waivers": None}, {}
    else:
        content, lines = documents[0].value, documents[0].lines
    waivers = content.get("waivers") if isinstance(content, dict) else content
    return PolicyInput(
        kind=WAIVER_KIND,
        target=shown,
        file=shown,
        document={
            "waivers": waivers,
            "today": today.isoformat(),
            "expiry": _expiry_facts(waivers, today),
        },
        lines=lines,
    )


def _expiry_facts(entries: Any, today: date) -> list[dict[str, Any]]:
    """Per entry: is ``expires`` a real YYYY-MM-DD date, and how many days away is it."""
    facts: list[dict[str, Any]] = []
    for entry in entries if isinstance(entries, list) else []:
        expires = entry.get("expires") if isinstance(entry, dict) else None
        try:
            if not isinstance(expires, str) or not _ISO_DATE.match(expires):
                raise ValueError(expires)
            days_left = (date.fromisoformat(expires) - today).days
        except ValueError:
            facts.append({"valid": False, "days_left": None})
        else:
            facts.append({"valid": True, "days_left": days_left})
    return facts


def load_waivers_file(path: Path | None, today: date) -> PolicyInput | InputProblem | None:
    """The waivers file as the waiver policy's input (None: no waivers file); a file that
    cannot be read is an InputProblem, which fails the gate."""
    if path is None:
        return None
    try:
        return waiver_input(path, today)
    except InputError as exc:
        return InputProblem(display_path(path), str(exc))
