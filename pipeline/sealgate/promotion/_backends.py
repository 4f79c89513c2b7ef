"""Registry backends by URL scheme: ``register_backend`` and ``open_registry``.

A backend is a factory that takes the whole registry URL and returns a ``Registry``. The
built-in ones are registered below and imported on first use (the Blob backend loads the
Azure SDK, which most commands never need). Backends import the interface module
(``_registry``), never this one's callers, so there is no import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sealgate.errors import InputError
from sealgate.promotion._registry import Registry

BackendFactory = Callable[[str], Registry]
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
# A registry given as a plain path (no scheme) is a folder.
PLAIN_PATH_SCHEME = "file"


@dataclass(frozen=True)
class Backend:
    scheme: str
    factory: BackendFactory
    usage: str  # how a URL of this scheme is written, for messages


_BACKENDS: dict[str, Backend] = {}


def register_backend(scheme: str, factory: BackendFactory, *, usage: str | None = None) -> None:
    """Open ``SCHEME://...`` registry URLs with ``factory(url)``; ``usage`` shows the URL form."""
    if not _SCHEME.match(scheme):
        raise ValueError(f"registry scheme {scheme!r}: use lowercase letters, digits, + . -")
    if scheme in _BACKENDS:
        raise ValueError(f"registry scheme {scheme!r} is already registered")
    _BACKENDS[scheme] = Backend(scheme, factory, usage or f"{scheme}://...")


def registry_schemes() -> tuple[str, ...]:
    return tuple(sorted(_BACKENDS))


def open_registry(url: str, *, witness: str | None = None) -> Registry:
    """The registry at ``url``: ``SCHEME://...`` of a registered backend, or a plain path.

    ``witness`` (default: ``SEALGATE_AUDIT_WITNESS``) is where audit heads are also kept
    (``sealgate.promotion._witness``).
    """
    scheme, separator, _ = url.partition("://")
    if not separator:
        scheme, url = PLAIN_PATH_SCHEME, f"{PLAIN_PATH_SCHEME}://{url}"
    backend = _BACKENDS.get(scheme)
    if backend is None:
        forms = " or ".join(_BACKENDS[s].usage for s in registry_schemes()) or "none registered"
        raise InputError(f"--registry {url}: unknown scheme {scheme + '://'!r}; use {forms}")
    registry = backend.factory(url)
    from sealgate.promotion._witness import open_witness, witness_from_environment

    registry.witness = open_witness(witness) if witness else witness_from_environment()
    return registry


def _open_file(url: str) -> Registry:
    from sealgate.promotion._fs_registry import FileRegistry

    return FileRegistry.from_url(url)


def _open_blob(url: str) -> Registry:
    from sealgate.promotion._blob_registry import BlobRegistry

    return BlobRegistry.from_url(url)


register_backend("file", _open_file, usage="file://PATH")
register_backend("azblob", _open_blob, usage="azblob://ACCOUNT/CONTAINER")
