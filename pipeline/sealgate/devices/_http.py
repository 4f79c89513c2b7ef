"""JSON over HTTPS to the key release service, for the device side (standard library only:
edge devices install the base package). Plain HTTP is accepted only to a loopback address."""

from __future__ import annotations

import ipaddress
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sealgate.errors import DeniedError, InputError

MAX_ANSWER_BYTES = 1024 * 1024


class ServiceError(InputError):
    """The key release service could not be reached or answered something unusable."""


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KeyserverConnection:
    """POSTs JSON to one key release service with an optional bearer token."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ca_file: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in {"https", "http"} or not parsed.hostname:
            raise InputError(f"{url}: the key release service is an https:// URL")
        if parsed.scheme == "http" and not _loopback(parsed.hostname):
            raise InputError(f"{url}: plain HTTP only to a loopback address; use https://")
        self._base = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The service's JSON answer; its refusals become ``DeniedError`` (403, 401) or
        ``InputError`` (400), outages ``ServiceError``, each with the service's reasons."""
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            self._base + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                **({"Authorization": f"Bearer {self._token}"} if self._token else {}),
            },
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self._timeout, context=self._context
            ) as response:
                return _json(response.read(MAX_ANSWER_BYTES + 1), self._base + path)
        except urllib.error.HTTPError as exc:
            raise _refusal(exc, self._base + path) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceError(f"{self._base}: key release service unreachable: {reason}") from None


def _json(content: bytes, url: str) -> dict[str, Any]:
    if len(content) > MAX_ANSWER_BYTES:
        raise ServiceError(f"{url}: answer larger than {MAX_ANSWER_BYTES} bytes")
    try:
        answer = json.loads(content)
    except ValueError:
        raise ServiceError(f"{url}: answer is not JSON") from None
    if not isinstance(answer, dict):
        raise ServiceError(f"{url}: answer is not a JSON object")
    return answer


def _refusal(exc: urllib.error.HTTPError, url: str) -> Exception:
    try:
        answer = _json(exc.read(MAX_ANSWER_BYTES + 1), url)
        reasons = answer.get("reasons") or []
        message = str(answer.get("error") or exc.reason)
        if isinstance(reasons, list) and reasons:
            message += ": " + "; ".join(str(r) for r in reasons)
    except ServiceError:
        message = str(exc.reason)
    finally:
        exc.close()
    if exc.code in {401, 403}:
        return DeniedError(f"{url}: {exc.code} {message}")
    if exc.code == 400:
        return InputError(f"{url}: {message}")
    return ServiceError(f"{url}: {exc.code} {message}")
