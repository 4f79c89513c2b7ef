"""The HTTP API of the release service (Flask): JSON in, JSON out, errors as
``{"error", "reasons"}``; see docs/key-release.md for the protocol.

Status codes: 400 malformed input, 401 a bearer token that authenticates no one, 403 a
denial (with rule ids), 413 a body over the limit, 415 not JSON, 503 a dependency failed or
device attestation is not available. A 5xx never carries a key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request

from sealgate.errors import DeniedError, EngineError, InputError
from sealgate.keyserver._devices import DeviceAttestation, DevicesUnavailable
from sealgate.keyserver._release import Denied, ReleaseService, Unavailable
from sealgate.keyserver._tokens import TokenError, TokenVerifier, UpstreamError

LOG = logging.getLogger("sealgate.keyserver")


def _error(
    status: int, message: str, reasons: tuple[str, ...] | list[str] = ()
) -> tuple[Response, int]:
    return jsonify({"error": message, "reasons": list(reasons)}), status


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _json_body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise _NotJson
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    return body


class _NotJson(Exception):
    pass


def _operator(tokens: TokenVerifier, operators: tuple[str, ...]) -> str:
    bearer = _bearer()
    if bearer is None:
        raise TokenError("enrolment needs an operator's Authorization: Bearer <token>")
    claims = tokens.verify(bearer)
    names = {claims.get("sub"), claims.get("oid"), *(claims.get("roles") or [])}
    allowed = sorted(n for n in names if isinstance(n, str) and n in operators)
    if not allowed:
        raise DeniedError(f"{claims.get('sub')!r} is not an enrolment operator")
    return f"{claims.get('iss')}#{claims.get('sub')}"


def create_app(
    service: ReleaseService,
    *,
    operators: tuple[str, ...] = (),
    max_body_bytes: int = 4 * 1024 * 1024,
) -> Flask:
    """The WSGI application around one ``ReleaseService``."""
    app = Flask("sealgate.keyserver")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = True  # type: ignore[attr-defined]

    def devices() -> DeviceAttestation:
        if service.devices is None:
            raise DevicesUnavailable("device attestation is not available in this key server")
        return service.devices

    def handle(action: Callable[[], dict[str, Any]]) -> tuple[Response, int]:
        try:
            return jsonify(action()), 200
        except _NotJson:
            return _error(415, "the request body must be application/json")
        except Denied as exc:
            LOG.info("release denied: %s", "; ".join(exc.reasons))
            return _error(403, "denied", exc.reasons)
        except TokenError as exc:
            return _error(401, "unauthenticated", [str(exc)])
        except DeniedError as exc:
            return _error(403, "denied", [str(exc)])
        except InputError as exc:
            return _error(400, "bad request", [str(exc)])
        except (DevicesUnavailable, UpstreamError, Unavailable, EngineError) as exc:
            LOG.warning("dependency failed: %s", exc)
            return _error(503, "unavailable", [str(exc)])

    @app.errorhandler(413)
    def too_large(_: Exception) -> tuple[Response, int]:
        return _error(413, f"the request body is over {max_body_bytes} bytes")

    @app.errorhandler(404)
    def not_found(_: Exception) -> tuple[Response, int]:
        return _error(404, "no such endpoint")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> tuple[Response, int]:
        return _error(405, "method not allowed")

    @app.errorhandler(500)
    def internal(_: Exception) -> tuple[Response, int]:
        return _error(500, "internal error")

    @app.get("/v1/health")
    def health() -> tuple[Response, int]:
        return jsonify({"status": "ok", "service_id": service.service_id}), 200

    @app.post("/v1/release")
    def release() -> tuple[Response, int]:
        return handle(lambda: service.release(_json_body(), _bearer()))

    @app.post("/v1/challenges")
    def challenges() -> tuple[Response, int]:
        def issue() -> dict[str, Any]:
            body = _json_body()
            device_id = body.get("device_id")
            if not isinstance(device_id, str) or not device_id or set(body) != {"device_id"}:
                raise InputError("a challenge request is {device_id}")
            # The PCRs to quote come with the challenge: the policy's data decides them.
            challenge = devices().issue_nonce(device_id)
            return {
                **challenge,
                "pcrs": service.policy.attested_pcrs(),
                "pcr_bank": service.policy.pcr_bank(),
            }

        return handle(issue)

    @app.post("/v1/devices")
    def enrol() -> tuple[Response, int]:
        def begin() -> dict[str, Any]:
            body = _json_body()
            operator = _operator(service.tokens, operators)
            return devices().begin_enrolment(body, operator=operator)

        return handle(begin)

    @app.post("/v1/devices/<enrolment_id>/activation")
    def activate(enrolment_id: str) -> tuple[Response, int]:
        def finish() -> dict[str, Any]:
            body = _json_body()
            _operator(service.tokens, operators)
            return devices().finish_enrolment(enrolment_id, body)

        return handle(finish)

    return app
