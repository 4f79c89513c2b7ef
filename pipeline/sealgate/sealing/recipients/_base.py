"""The recipient interface: who can unwrap a sealed model's data key.

A *recipient* wraps the data key at seal time and needs only public material. An *identity*
unwraps it at unseal time and may be local, remote (a key vault) or hardware (a TPM); the
unwrapping side never has to expose its private key. Types register under the ``TYPE`` of a
``TYPE:VALUE`` spec.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from sealgate.errors import InputError


@dataclass(frozen=True)
class WrappedKey:
    """One recipient's copy of the data key, as recorded in the signed seal header.

    ``params`` holds what a type needs besides the key id to unwrap (e.g. a key version);
    its values are strings so the header stays canonical.
    """

    type: str
    key_id: str
    algorithm: str
    wrapped: bytes
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class Recipient(ABC):
    """Wraps a data key with public material only."""

    type_name: str
    key_id: str

    @abstractmethod
    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        """Wrap ``data_key``; ``context`` must be given again to unwrap."""


class Identity(ABC):
    """Unwraps a data key that was wrapped for it; may call out to a service or a device."""

    type_name: str
    key_id: str

    def matches(self, wrapped: WrappedKey) -> bool:
        return wrapped.type == self.type_name and wrapped.key_id == self.key_id

    def consumer(self) -> dict[str, object]:
        """Who holds this identity, as facts for the unseal policy (established here, not claimed)."""
        return {"type": "key", "key_type": self.type_name, "key_id": self.key_id}

    def attestation(self, pcrs: Sequence[int]) -> dict[str, object] | None:
        """Verified evidence of the holder's state (a TPM quote over ``pcrs``), if it has any."""
        return None

    @abstractmethod
    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        """Return the data key, or raise ``VerificationError`` if it cannot be unwrapped."""


class RecipientType(ABC):
    """A pluggable kind of recipient, e.g. ``local``, ``keyvault``, ``tpm``.

    ``requires_unseal_policy``: an identity of this type unseals only after the unseal policy
    allows it (``sealgate unseal`` refuses to run without ``--environment``). True unless a
    type opts out explicitly, which only a type whose key file alone decrypts may do: its
    holder does not need sealgate, so a policy could not bind them anyway.
    """

    name: str
    requires_unseal_policy: bool = True

    @abstractmethod
    def recipient(self, value: str) -> Recipient:
        """Load the public side named by ``value`` (the part after ``TYPE:``)."""

    @abstractmethod
    def identity(self, value: str) -> Identity:
        """Load the unwrapping side named by ``value``."""


_REGISTRY: dict[str, RecipientType] = {}


def register_recipient_type(recipient_type: RecipientType) -> None:
    if recipient_type.name in _REGISTRY:
        raise ValueError(f"recipient type {recipient_type.name!r} is already registered")
    _REGISTRY[recipient_type.name] = recipient_type


def recipient_types() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def requires_unseal_policy(type_name: str) -> bool:
    """Whether identities of ``type_name`` must pass the unseal policy (True for unknown types)."""
    recipient_type = _REGISTRY.get(type_name)
    return recipient_type is None or recipient_type.requires_unseal_policy is not False


def _split_spec(spec: str, what: str) -> tuple[RecipientType, str]:
    type_name, sep, value = spec.partition(":")
    if not sep or not type_name or not value:
        raise InputError(f"{what} {spec!r}: expected TYPE:VALUE, e.g. local:key.pub")
    recipient_type = _REGISTRY.get(type_name)
    if recipient_type is None:
        available = ", ".join(recipient_types()) or "none"
        raise InputError(f"{what} {spec!r}: unknown type {type_name!r} (available: {available})")
    return recipient_type, value


def parse_recipient(spec: str) -> Recipient:
    recipient_type, value = _split_spec(spec, "recipient")
    return recipient_type.recipient(value)


def parse_identity(spec: str) -> Identity:
    recipient_type, value = _split_spec(spec, "identity")
    return recipient_type.identity(value)
