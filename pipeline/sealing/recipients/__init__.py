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
from pipeline.sealing.recipients.keyvault import KeyVaultRecipientType
from pipeline.sealing.recipients.local import LocalRecipientType, generate_recipient_key
from pipeline.sealing.recipients.tpm import TpmRecipientType

register_recipient_type(LocalRecipientType())
register_recipient_type(KeyVaultRecipientType())
register_recipient_type(TpmRecipientType())

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
