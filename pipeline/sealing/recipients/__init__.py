"""Recipient types for the data key; ``local`` is built in, others register here."""

from pipeline.sealing.recipients.base import (
    Identity,
    Recipient,
    RecipientType,
    WrappedKey,
    parse_identity,
    parse_recipient,
    recipient_types,
    register_recipient_type,
)
from pipeline.sealing.recipients.local import LocalRecipientType, generate_recipient_key

register_recipient_type(LocalRecipientType())

__all__ = [
    "Identity",
    "Recipient",
    "RecipientType",
    "WrappedKey",
    "generate_recipient_key",
    "parse_identity",
    "parse_recipient",
    "recipient_types",
    "register_recipient_type",
]
