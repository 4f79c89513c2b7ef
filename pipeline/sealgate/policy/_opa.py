"""The production decision point: an OPA server, reached over its REST API.

In production the server loads signed bundles that ``sealgate policy bundle`` builds; for
development and the parity test, ``push`` uploads the local policy tree through the REST API.
Builtin errors are made strict (``strict-builtin-errors``) so that OPA, like the embedded
engine, reports an error instead of silently treating the expression as undefined.

Each input costs one request (the batch module in ``_opa_batch``); a server without that
module is asked package by package. Every request runs under ``OpaLimits``: once the run's
deadline has passed, the remaining inputs are denied without asking.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from sealgate.errors import EngineError, InputError
from sealgate.policy._embedded import UNDEFINED
from sealgate.policy._loader import DATA_NAMESPACE, PolicySet
from sealgate.policy._opa_batch import BATCH_FILE, BATCH_MODULE, BATCH_PATH, batch_request
from sealgate.policy._opa_http import MALFORMED, SERVER_ERROR, OpaFailure, OpaHttp
from sealgate.policy._opa_limits import OpaLimits

_STRICT = "?strict-builtin-errors=true"


def parse_opa_url(url: str) -> tuple[str, int, bool, str]:
    """(host, port, tls, base path) of an OPA server URL such as ``http://127.0.0.1:8181``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InputError(f"--opa-url {url!r}: expected http(s)://HOST[:PORT]")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8181)
    except ValueError as exc:
        raise InputError(f"--opa-url {url!r}: {exc}") from exc
    if parts.path not in {"", "/"}:
        raise InputError(f"--opa-url {url!r}: give the server root, without a path")
    return parts.hostname, port, parts.scheme == "https", parts.path


class OpaServerEngine:
    name = "opa"

    def __init__(
        self, url: str, *, limits: OpaLimits | None = None, token: str | None = None
    ) -> None:
        host, port, tls, _ = parse_opa_url(url)
        self.url = url
        self.limits = limits or OpaLimits()
        self._http = OpaHttp(url, host, port, tls, self.limits, token)
        self._batched = True  # until the server shows it lacks the batch module

    @property
    def batched(self) -> bool:
        """Whether inputs still cost one request each (False once the server showed that it
        lacks the batch module)."""
        return self._batched

    def close(self) -> None:
        self._http.close()

    def push(self, policy_set: PolicySet) -> None:
        """Upload every policy module, the batch module and the shared data (development).

        OPA compiles each upload against the modules it already has, so a module that uses
        one not yet uploaded is refused: refused modules are sent again after the others,
        until a round makes no progress.
        """
        modules = [(m.file.replace("/", "_"), m.source) for m in policy_set.policy_modules]
        pending = [*modules, (BATCH_FILE.replace("/", "_"), BATCH_MODULE)]
        while pending:
            refused = []
            for policy_id, source in pending:
                answer = self._http.request(
                    "PUT",
                    f"/v1/policies/{quote(policy_id, safe='')}",
                    source.encode(),
                    "text/plain",
                )
                if answer.status != 200:
                    refused.append((policy_id, source, answer.body))
            if len(refused) == len(pending):
                raise EngineError(
                    f"OPA server {self.url} rejected the policies: {_error_text(refused[0][2])}"
                )
            pending = [(policy_id, source) for policy_id, source, _ in refused]
        data = json.dumps(policy_set.data[DATA_NAMESPACE]).encode()
        answer = self._http.request("PUT", f"/v1/data/{DATA_NAMESPACE}", data, "application/json")
        if answer.status not in {200, 204}:
            raise EngineError(
                f"OPA server {self.url} rejected the data: {_error_text(answer.body)}"
            )

    def evaluate_rules(self, rules: Sequence[str], input_document: Any) -> list[Any]:
        """Each rule's value, UNDEFINED, or the EngineError (an ``OpaFailure`` names why)."""
        packages = batch_request(rules) if self._batched else {}
        values: dict[str, Any] = {}
        if packages:
            try:
                values = self._batch(packages, input_document)
            except EngineError as exc:
                return [exc for _ in rules]
        results: list[Any] = []
        for rule in rules:
            name = rule.removesuffix(".deny")
            if name in packages and self._batched:
                results.append(values.get(name, UNDEFINED))
            else:
                results.append(self._single(rule, input_document))
        return results

    def _batch(self, packages: dict[str, list[str]], document: Any) -> dict[str, Any]:
        body = json.dumps({"input": {"packages": packages, "document": document}}).encode()
        result = self._decision(BATCH_PATH, body, "the batched decisions")
        if result is UNDEFINED:
            self._batched = False  # no batch module on this server: ask package by package
            return {}
        if not isinstance(result, dict):
            raise OpaFailure(MALFORMED, f"OPA server {self.url} sent a malformed answer")
        return result

    def _single(self, rule: str, document: Any) -> Any:
        body = json.dumps({"input": document}).encode()
        try:
            return self._decision(f"/v1/data/{rule.replace('.', '/')}", body, f"data.{rule}")
        except EngineError as exc:
            return exc

    def _decision(self, path: str, body: bytes, what: str) -> Any:
        answer = self._http.request("POST", path + _STRICT, body, "application/json")
        if answer.status != 200:
            raise OpaFailure(
                SERVER_ERROR,
                f"OPA server error for {what}: HTTP {answer.status} {_error_text(answer.body)}",
            )
        if not isinstance(answer.body, dict):
            raise OpaFailure(
                MALFORMED, f"OPA server {self.url} sent a malformed answer (not a JSON object)"
            )
        return answer.body.get("result", UNDEFINED)


def _error_text(body: Any) -> str:
    """OPA's error document as one line: code, then each error's file:row: message."""
    if not isinstance(body, dict):
        return "(no error document)"
    errors = body.get("errors") or []
    detail = "; ".join(
        f"{e.get('location', {}).get('file', '')}:{e.get('location', {}).get('row', '')}: "
        f"{e.get('message', '')}"
        for e in errors
        if isinstance(e, dict)
    )
    text = f"{body.get('code', '')}: {detail or body.get('message', '')}"
    return " ".join(text.split())
