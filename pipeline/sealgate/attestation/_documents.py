"""JSON documents in the release service's ``StateStore`` and the request fields they come from."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sealgate.errors import InputError
from sealgate.keyserver._state import StateStore

MAX_DOCUMENT_BYTES = 64 * 1024
_HEX_ID = re.compile(r"[0-9a-f]{64}")
_ENROLMENT_ID = re.compile(r"[0-9a-f]{32}")


def read_document(state: StateStore, key: str) -> tuple[dict[str, Any], str] | None:
    """The document and its tag; None if absent or not a JSON object (fails closed: callers
    treat an unreadable document as one that does not exist)."""
    found = state.read(key)
    if found is None:
        return None
    content, tag = found
    if len(content) > MAX_DOCUMENT_BYTES:
        return None
    try:
        document = json.loads(content)
    except ValueError:
        return None
    return (document, tag) if isinstance(document, dict) else None


def encode_document(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def field_b64(request: Mapping[str, Any], name: str, *, max_bytes: int, what: str) -> bytes:
    """A required base64 field, bounded before it is decoded."""
    value = request.get(name)
    if not isinstance(value, str) or not value:
        raise InputError(f"{what}: {name} is missing or not a base64 string")
    if len(value) > (max_bytes + 2) // 3 * 4:
        raise InputError(f"{what}: {name} is longer than {max_bytes} bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what}: {name} is not valid base64") from None


def field_mapping(request: Mapping[str, Any], name: str, what: str) -> Mapping[str, Any]:
    value = request.get(name)
    if not isinstance(value, Mapping):
        raise InputError(f"{what}: {name} is missing or not an object")
    return value


def check_device_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX_ID.fullmatch(value):
        raise InputError(f"{what}: a device id is 64 lowercase hex digits")
    return value


def check_enrolment_id(value: object) -> str:
    if not isinstance(value, str) or not _ENROLMENT_ID.fullmatch(value):
        raise InputError("enrolment id is 32 lowercase hex digits")
    return value


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_rfc3339(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
