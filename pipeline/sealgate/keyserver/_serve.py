"""``sealgate keyserver serve``: the Flask application under gunicorn, TLS only.

The configuration is loaded and the service built in the master before any worker starts
(``preload_app``), so a bad configuration fails once, with one line, and nothing listens.
Workers share nothing but the StateStore and the registry, like replicas do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sealgate.errors import InputError
from sealgate.keyserver._config import KeyserverConfig

REQUEST_TIMEOUT_SECONDS = 30


def gunicorn_options(config: KeyserverConfig, host: str, port: int, workers: int) -> dict[str, Any]:
    if config.tls_certificate is None or config.tls_key is None:
        raise InputError(f"{config.source}: tls.certificate and tls.key are required to serve")
    return {
        "bind": f"{host}:{port}",
        "workers": max(2, workers),
        # One request at a time per worker: the embedded engine may not cross threads.
        "worker_class": "sync",
        "control_socket_disable": True,
        "certfile": str(config.tls_certificate),
        "keyfile": str(config.tls_key),
        "timeout": config.limits.request_timeout_seconds,
        "graceful_timeout": 10,
        "keepalive": 5,
        "limit_request_line": 8190,
        "limit_request_fields": 50,
        "limit_request_field_size": 16384,
        "preload_app": True,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "sealgate-keyserver",
    }


def serve(application: Callable[..., Any], options: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Callable[..., Any]:
            return application

    _Server().run()
