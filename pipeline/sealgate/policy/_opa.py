"""The production decision point: an OPA server, reached through ``opa-python-client``.

In production the server loads signed bundles that ``sealgate policy bundle`` builds; for
development and the parity test, ``push`` uploads the local policy tree through the REST API.
Builtin errors are made strict (``strict-builtin-errors``) so that OPA, like the embedded
engine, reports an error instead of silently treating the expression as undefined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client.opa import OpaClient

from sealgate.errors import EngineError, InputError
from sealgate.policy._embedded import UNDEFINED
from sealgate.policy._loader import DATA_NAMESPACE, PolicyModule, PolicySet

_QUERY_PARAMS = {"strict-builtin-errors": "true"}


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

    def __init__(self, url: str, *, timeout: float = 5.0, token: str | None = None) -> None:
        host, port, tls, _ = parse_opa_url(url)
        self.url = url
        self._client = OpaClient(host=host, port=port, ssl=tls, timeout=timeout, token=token)

    def push(self, policy_set: PolicySet) -> None:
        """Upload every policy module and the shared data (development and parity tests).

        OPA compiles each uploaded module against those already there, so a module that calls
        one not yet uploaded is refused: refused modules are retried after the others until a
        round uploads nothing more.
        """
        pending = list(policy_set.policy_modules)
        try:
            while pending:
                refused: list[PolicyModule] = []
                reason: Exception | None = None
                for module in pending:
                    try:
                        self._client.update_policy_from_string(
                            module.source, module.file.replace("/", "_"), rego_compat=False
                        )
                    except requests.RequestException:
                        raise
                    except Exception as exc:  # the client raises its own exception types
                        refused.append(module)
                        reason = exc
                if reason is not None and len(refused) == len(pending):
                    raise EngineError(
                        f"OPA server {self.url} rejected the policies: {_reason(reason)}"
                    ) from reason
                pending = refused
            self._client.update_or_create_data(policy_set.data[DATA_NAMESPACE], DATA_NAMESPACE)
        except requests.RequestException as exc:
            raise EngineError(f"OPA server {self.url} unreachable: {exc}") from exc
        except EngineError:
            raise
        except Exception as exc:  # the client raises its own exception types
            raise EngineError(
                f"OPA server {self.url} rejected the policies: {_reason(exc)}"
            ) from exc

    def evaluate_rules(self, rules: Sequence[str], input_document: Any) -> list[Any]:
        return [self._evaluate(rule, input_document) for rule in rules]

    def _evaluate(self, rule: str, input_document: Any) -> Any:
        try:
            response = self._client.query_rule(input_document, rule, query_params=_QUERY_PARAMS)
        except requests.HTTPError as exc:
            return EngineError(f"OPA server error for data.{rule}: {_http_reason(exc)}")
        except requests.RequestException as exc:
            return EngineError(f"OPA server {self.url} unreachable: {exc}")
        except ValueError as exc:  # a body that is not JSON
            return EngineError(f"OPA server {self.url} sent an unreadable answer: {exc}")
        if not isinstance(response, dict):
            return EngineError(f"OPA server {self.url} sent an unexpected answer")
        return response.get("result", UNDEFINED)


def _http_reason(exc: requests.HTTPError) -> str:
    response = exc.response
    if response is None:
        return str(exc)
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    errors = body.get("errors") or []
    detail = "; ".join(
        f"{e.get('location', {}).get('file', '')}:{e.get('location', {}).get('row', '')}: "
        f"{e.get('message', '')}"
        for e in errors
        if isinstance(e, dict)
    )
    return (
        f"HTTP {response.status_code} {body.get('code', '')}: {detail or body.get('message', '')}"
    )


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())
