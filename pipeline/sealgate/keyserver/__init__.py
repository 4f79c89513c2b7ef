"""The key release service: decides with the unseal policy on facts it verified itself and
answers with one model's data key wrapped to the consumer (see docs/key-release.md).

Public surface: ``load_config``, ``build_service``, ``create_app`` (Flask; loaded on first
use), ``ReleaseService``, the ``StateStore`` protocol with ``open_state_store``,
``FileStateStore`` and ``BlobStateStore``, the ``DeviceAttestation`` protocol,
``ResponseKey`` and ``release_context`` (the consumer's side of the answer).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sealgate.keyserver._devices import DeviceAttestation
from sealgate.keyserver._response_key import ResponseKey, release_context
from sealgate.keyserver._state import StateStore
from sealgate.keyserver._stores import open_state_store

if TYPE_CHECKING:
    from sealgate.keyserver._app import create_app
    from sealgate.keyserver._blob_state import BlobStateStore
    from sealgate.keyserver._build import build_service
    from sealgate.keyserver._config import KeyserverConfig, load_config
    from sealgate.keyserver._fs_state import FileStateStore
    from sealgate.keyserver._release import ReleaseService

_LAZY = {
    "create_app": "sealgate.keyserver._app",
    "BlobStateStore": "sealgate.keyserver._blob_state",
    "build_service": "sealgate.keyserver._build",
    "KeyserverConfig": "sealgate.keyserver._config",
    "load_config": "sealgate.keyserver._config",
    "FileStateStore": "sealgate.keyserver._fs_state",
    "ReleaseService": "sealgate.keyserver._release",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BlobStateStore",
    "DeviceAttestation",
    "FileStateStore",
    "KeyserverConfig",
    "ReleaseService",
    "ResponseKey",
    "StateStore",
    "build_service",
    "create_app",
    "load_config",
    "open_state_store",
    "release_context",
]
