"""Whether the unseal policy must run is the recipient type's own declaration.

A type that does not say otherwise is held to the policy, so a new remote type cannot skip it
by being absent from a list; only ``local`` development keys opt out, explicitly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sealgate.errors import DeniedError, InputError
from sealgate.policy import builtin_policy_root
from sealgate.runtime import unseal_model
from sealgate.runtime._authorization import UnsealAuthorizer, build_authorizer
from sealgate.sealing import (
    SealOptions,
    generate_signing_key,
    load_signing_private_key,
    load_trust,
    parse_identity,
    parse_recipient,
    register_recipient_type,
    seal_model,
)
from sealgate.sealing.recipients import (
    Identity,
    Recipient,
    RecipientType,
    WrappedKey,
    _base,
    recipient_types,
    requires_unseal_policy,
)

from tests.sealing.conftest import write_model

TYPE = "relay"


def _pad(secret: str, context: bytes) -> bytes:
    return hashlib.sha256(secret.encode() + b"\0" + context).digest()


class RelayRecipient(Recipient):
    """Stands for a remote key service: wraps with a pad only the 'service' can recompute."""

    type_name = TYPE

    def __init__(self, value: str) -> None:
        self.key_id = value

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        wrapped = bytes(a ^ b for a, b in zip(data_key, _pad(self.key_id, context), strict=True))
        return WrappedKey(TYPE, self.key_id, "test-pad", wrapped)


class RelayIdentity(Identity):
    type_name = TYPE
    unwrapped = 0

    def __init__(self, value: str) -> None:
        self.key_id = value

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        RelayIdentity.unwrapped += 1
        return bytes(
            a ^ b for a, b in zip(wrapped.wrapped, _pad(self.key_id, context), strict=True)
        )


class RelayType(RecipientType):
    """A newly registered type that does not mention the unseal policy at all."""

    name = TYPE

    def recipient(self, value: str) -> Recipient:
        return RelayRecipient(value)

    def identity(self, value: str) -> Identity:
        return RelayIdentity(value)


@pytest.fixture
def relay_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_base, "_REGISTRY", dict(_base._REGISTRY))
    register_recipient_type(RelayType())
    RelayIdentity.unwrapped = 0


def _authorizer(identities: list[Identity], environment: str | None, log: list[str]):  # type: ignore[no-untyped-def]
    return build_authorizer(
        identities,
        environment=environment,
        registry_url=None,
        policies=[builtin_policy_root()],
        engine="embedded",
        opa_url=None,
        opa_push=False,
        log=log.append,
    )


def test_the_attribute_defaults_to_the_policy_and_only_local_opts_out(relay_type: None) -> None:
    assert RecipientType.requires_unseal_policy is True
    assert TYPE in recipient_types() and requires_unseal_policy(TYPE)
    assert requires_unseal_policy("keyvault") and requires_unseal_policy("tpm")
    assert not requires_unseal_policy("local")
    # A type nobody registered (an identity made by hand) is held to the policy too.
    assert requires_unseal_policy("never-registered")


def test_a_new_recipient_type_cannot_unseal_without_the_policy(relay_type: None) -> None:
    with pytest.raises(InputError, match=f"{TYPE} identities unseal only after the unseal policy"):
        _authorizer([parse_identity(f"{TYPE}:svc-1")], None, [])


def test_local_keys_opt_out_explicitly(tmp_path: Path) -> None:
    from sealgate.sealing import generate_recipient_key

    generate_recipient_key(tmp_path / "rcpt")
    local = parse_identity(f"local:{tmp_path / 'rcpt.key'}")
    assert _authorizer([local], None, []) is None
    # With an environment the policy runs for local keys as well.
    assert isinstance(_authorizer([local], "prod", []), UnsealAuthorizer)


def test_the_policy_runs_for_a_new_recipient_type_and_its_denial_unwraps_nothing(
    relay_type: None, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    files = write_model(model)
    generate_signing_key(tmp_path / "signer")
    sealed = tmp_path / "sealed"
    seal_model(
        model,
        sealed,
        name="ranker",
        version="1.0",
        signing_key=load_signing_private_key(tmp_path / "signer.key"),
        recipients=[parse_recipient(f"{TYPE}:svc-1")],
        options=SealOptions(chunk_size=512),
    )
    identity = parse_identity(f"{TYPE}:svc-1")
    log: list[str] = []
    authorize = _authorizer([identity], "prod", log)
    assert isinstance(authorize, UnsealAuthorizer)
    with pytest.raises(DeniedError, match="denied by policy"):
        unseal_model(
            sealed,
            tmp_path / "out",
            identities=[identity],
            trust=load_trust(tmp_path / "signer.pub"),
            allow_disk=True,
            authorize=authorize,
        )
    [line] = log
    decision = json.loads(line)
    assert decision["decision"] == "deny" and decision["environment"] == "prod"
    assert decision["consumer"] == {"type": "key", "key_type": TYPE, "key_id": "svc-1"}
    assert RelayIdentity.unwrapped == 0 and not (tmp_path / "out").exists()
    # Control: the stub type itself round-trips, so the denial above was the policy's.
    unseal_model(
        sealed,
        tmp_path / "out",
        identities=[identity],
        trust=load_trust(tmp_path / "signer.pub"),
        allow_disk=True,
    )
    assert RelayIdentity.unwrapped == 1
    assert {
        p.relative_to(tmp_path / "out").as_posix(): p.read_bytes()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    } == files
