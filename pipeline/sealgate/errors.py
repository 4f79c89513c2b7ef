"""The error hierarchy shared by every sealgate package.

Library code raises these; only ``sealgate.cli`` turns them into messages and exit codes.
Every message is a single line that names what was wrong and, where there is one, the file.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DENIED = 1  # policy violations, or a decision that failed closed
    INPUT = 2  # usage error, unreadable or malformed input, missing component
    UNAVAILABLE = 3  # a service the decision needs (the key release service) did not answer


class SealgateError(Exception):
    """Base class: a failure that has a clear, one-line explanation for the user."""

    exit_code: ExitCode = ExitCode.INPUT

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()) if "\n" in message else message)


class InputError(SealgateError):
    """A file, flag or configuration value that cannot be used as given."""


class PolicyLoadError(InputError):
    """A policy that cannot be loaded: syntax, Rego v0, unsafe variables, bad METADATA."""


class EngineError(SealgateError):
    """The policy engine itself failed (not the policy's verdict)."""


class DeniedError(SealgateError):
    """A security decision that denied the operation (exit code 1)."""

    exit_code = ExitCode.DENIED


class VerificationError(DeniedError):
    """A sealed model, signature or digest that does not verify: tampering, wrong key or signer."""


class UnavailableError(SealgateError):
    """A service the operation needs did not answer usably (exit code 3): retry later."""

    exit_code = ExitCode.UNAVAILABLE
