"""A small HTTPS JSON client for the key release service.

One overall deadline per request (connect, send and every read count against it), a bounded
response, TLS verified against the system roots or ``ca_bundle``. Status mapping: 200 the
answer; 403 and 401 ``DeniedError`` (with the service's reasons); 400 ``InputError``; 5xx,
unreachable, timed out or a non-JSON answer ``UnavailableError`` (exit code 3).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3

from sealgate.errors import DeniedError, InputError, UnavailableError

MAX_RESPONSE_BYTES = 1024 * 1024
READ_CHUNK = 64 * 1024


def _reasons(document: Mapping[str, Any]) -> str:
    reasons = document.get("reasons")
    if isinstance(reasons, list) and reasons:
        return "; ".join(str(r) for r in reasons)
    return str(document.get("error") or "no reason given")


@dataclass
class KeyserverClient:
    url: str
    ca_bundle: Path | None = None
    deadline_seconds: float = 30.0
    max_response_bytes: int = MAX_RESPONSE_BYTES

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise InputError(f"--keyserver {self.url}: expected an https:// URL")
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise InputError(f"--ca-bundle {self.ca_bundle}: no such file")
        self.url = self.url.rstrip("/")
        self._pool = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED",
            ca_certs=str(self.ca_bundle) if self.ca_bundle else None,
            retries=False,
        )

    def post(
        self, path: str, body: Mapping[str, Any], *, bearer: str | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.deadline_seconds
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        where = f"key server {self.url}"
        try:
            response = self._pool.request(
                "POST",
                self.url + path,
                body=json.dumps(body).encode(),
                headers=headers,
                timeout=urllib3.Timeout(total=self.deadline_seconds),
                preload_content=False,
                redirect=False,
            )
            try:
                data = self._read(response, deadline, where)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise UnavailableError(f"{where}: unreachable: {reason}") from None
        return self._answer(response.status, response.headers.get("Content-Type", ""), data, where)

    def _read(self, response: Any, deadline: float, where: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise UnavailableError(
                    f"{where}: no complete answer within {self.deadline_seconds:g} s"
                )
            chunk = response.read1(
                READ_CHUNK
            )  # what has arrived: the deadline is checked between reads
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_response_bytes:
                raise UnavailableError(f"{where}: answer is over {self.max_response_bytes} bytes")
            chunks.append(chunk)

    def _answer(self, status: int, content_type: str, data: bytes, where: str) -> dict[str, Any]:
        try:
            document = (
                json.loads(data)
                if content_type.split(";")[0].strip() == "application/json"
                else None
            )
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise UnavailableError(
                f"{where}: answered HTTP {status} with something that is not a JSON object "
                f"({content_type or 'no content type'})"
            )
        if status == 200:
            return document
        if status in (401, 403):
            raise DeniedError(f"{where} denied the release (HTTP {status}): {_reasons(document)}")
        if status in (400, 404, 405, 413, 415):
            raise InputError(f"{where} refused the request (HTTP {status}): {_reasons(document)}")
        raise UnavailableError(f"{where}: HTTP {status}: {_reasons(document)}")
