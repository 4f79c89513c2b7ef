"""Recipient types for the data key; ``local`` is built in, others register here."""

from sealgate.sealing.recipients._base import (
    Identity,
    Recipient,
    RecipientType,
    WrappedKey,
    parse_identity,
    parse_recipient,
    recipient_types,
    register_recipient_type,
    requires_unseal_policy,
)
from sealgate.sealing.recipients._keyvault import KeyVaultRecipientType
from sealgate.sealing.recipients._local import LocalRecipientType, generate_recipient_key
from sealgate.sealing.recipients._tpm import TpmRecipientType

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
    "requires_unseal_policy",
]
