"""HTTP to an OPA server under deadlines and a cap on answer size.

Every request gets one deadline: the per-decision timeout, shortened to what is left of the
run's deadline. Socket timeouts alone cannot enforce it (a server that trickles one byte
every few seconds resets them forever), so a timer cuts the connection when the deadline
passes. Answers are read incrementally and abandoned at the cap. Connections are reused
(one urllib3 pool per server). Each failure names its reason (``OpaFailure.reason``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError

from sealgate.errors import EngineError
from sealgate.policy._opa_limits import OpaLimits

UNREACHABLE = "unreachable"
TIMED_OUT = "timed out"
MALFORMED = "malformed answer"
TOO_LARGE = "answer too large"
SERVER_ERROR = "server error"
DEADLINE_PASSED = "deadline passed"

_CHUNK = 64 * 1024


class OpaFailure(EngineError):
    """No usable answer from the OPA server; ``reason`` is one of the module's reason names."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class OpaAnswer:
    status: int
    body: Any  # the parsed JSON document (None for an empty body)


class _Tracked:
    """Tells the request's cutter (per thread) which connection the request is using."""

    current = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> None:
        cutter = getattr(_Tracked.current, "cutter", None)
        if cutter is not None:
            cutter.connection = self
        super().request(*args, **kwargs)  # type: ignore[misc]


class _TrackedHTTPConnection(_Tracked, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_Tracked, HTTPSConnection):
    pass


class _Cutter:
    """Shuts the request's socket down when its deadline passes (unless it finished)."""

    _RETRY = 0.05  # the deadline passed while connecting: cut as soon as a socket exists

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self.connection: Any = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = self._arm(seconds)

    def _arm(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self._cut)
        timer.daemon = True
        return timer

    def __enter__(self) -> _Cutter:
        _Tracked.current.cutter = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _Tracked.current.cutter = None
        with self._lock:
            self._done = True
            self._timer.cancel()

    def _cut(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = getattr(self.connection, "sock", None)
            if sock is None:
                self._timer = self._arm(self._RETRY)
                self._timer.start()
                return
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class OpaHttp:
    """Requests to one OPA server, each bounded by its deadline and the answer cap."""

    def __init__(
        self, url: str, host: str, port: int, tls: bool, limits: OpaLimits, token: str | None
    ) -> None:
        self.url = url
        self.limits = limits
        self._started = time.monotonic()
        pool_class = urllib3.HTTPSConnectionPool if tls else urllib3.HTTPConnectionPool
        self._pool = pool_class(host, port, maxsize=4, block=False, retries=False)
        self._pool.ConnectionCls = _TrackedHTTPSConnection if tls else _TrackedHTTPConnection
        self._headers = {"Accept-Encoding": "identity", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self._pool.close()

    def remaining(self) -> tuple[float, str]:
        """Seconds this request may take, and which limit sets them."""
        decision = self.limits.decision_timeout
        if self.limits.run_deadline is None:
            return decision, f"the {decision:g} s decision timeout"
        left = self.limits.run_deadline - (time.monotonic() - self._started)
        if left < decision:
            return left, f"the run's {self.limits.run_deadline:g} s deadline"
        return decision, f"the {decision:g} s decision timeout"

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> OpaAnswer:
        seconds, limit = self.remaining()
        if seconds <= 0:
            raise OpaFailure(
                DEADLINE_PASSED,
                f"OPA server {self.url} not asked: {limit} had passed (deadline passed)",
            )
        headers = dict(self._headers)
        if content_type:
            headers["Content-Type"] = content_type
        timed_out = OpaFailure(
            TIMED_OUT, f"OPA server {self.url} timed out: no complete answer within {limit}"
        )
        with _Cutter(seconds) as cutter:
            try:
                response = self._pool.urlopen(
                    method,
                    path,
                    body=body,
                    headers=headers,
                    timeout=urllib3.Timeout(connect=seconds, read=seconds),
                    preload_content=False,
                    release_conn=False,
                    redirect=False,
                )
            except (Urllib3Error, OSError) as exc:
                if cutter.fired or _is_timeout(exc):
                    raise timed_out from exc
                raise OpaFailure(
                    UNREACHABLE, f"OPA server {self.url} unreachable: {_short(exc)}"
                ) from exc
            try:
                raw = self._read_capped(response)
            except (Urllib3Error, OSError) as exc:
                response.close()
                raise (
                    timed_out
                    if cutter.fired or _is_timeout(exc)
                    else OpaFailure(
                        UNREACHABLE,
                        f"OPA server {self.url} unreachable: its answer broke off ({_short(exc)})",
                    )
                ) from exc
            finally:
                response.release_conn()
        if cutter.fired:
            raise timed_out
        return OpaAnswer(response.status, self._parse(raw))

    def _read_capped(self, response: urllib3.BaseHTTPResponse) -> bytes:
        cap = self.limits.max_answer_bytes
        too_large = OpaFailure(
            TOO_LARGE, f"OPA server {self.url} sent an answer too large: over the {cap}-byte cap"
        )
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            response.close()
            raise too_large
        parts: list[bytes] = []
        size = 0
        while True:
            chunk = response.read(_CHUNK, decode_content=False)
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            if size > cap:
                response.close()
                raise too_large
            parts.append(chunk)

    def _parse(self, raw: bytes) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise OpaFailure(
                MALFORMED, f"OPA server {self.url} sent a malformed answer (not JSON: {exc})"
            ) from exc


def _is_timeout(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NewConnectionError | ConnectionRefusedError):
            return False  # urllib3 files a refused connection under its timeouts
        if isinstance(seen, TimeoutError | urllib3.exceptions.TimeoutError):
            return True
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else seen.__context__
    return False


def _short(exc: BaseException) -> str:
    """The underlying socket error where there is one (urllib3's text names its classes)."""
    cause = exc.__cause__ or exc.__context__
    shown = cause if isinstance(cause, OSError) else exc
    return " ".join(str(shown).split())
