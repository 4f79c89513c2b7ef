"""Options that several commands share, declared once."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sealgate.policy._opa_limits import OpaLimits

# A click command function, before and after an option decorator.
F = TypeVar("F", bound=Callable[..., Any])

POLICIES_ENV = "SEALGATE_POLICIES"


class _PolicyFolders(click.Path):
    """Policy folders; in the environment variable several are separated by os.pathsep."""

    def split_envvar_value(self, rv: str) -> Sequence[str]:
        return [part for part in rv.split(os.pathsep) if part]


def policies_option(function: F) -> F:
    """``--policies DIR``, repeatable, added to the built-in policies: ``policies: tuple[Path, ...]``.

    Without the flag, ``SEALGATE_POLICIES`` (folders separated by os.pathsep) gives them.
    Turn the value into the folders to load with ``policy_roots(policies)``.
    """
    return click.option(
        "--policies",
        "policies",
        multiple=True,
        metavar="DIR",
        envvar=POLICIES_ENV,
        type=_PolicyFolders(path_type=Path, file_okay=False, exists=True),
        help="A policy folder to add to the built-in policies (its Rego and its data/*.yaml "
        f"over the built-in data); repeatable; in the variable, folders separated by {os.pathsep!r}.",
    )(function)


def policy_roots(policies: Sequence[Path], *, builtin: bool = True) -> list[Path]:
    """The folders to load: the built-in policies first (unless ``builtin`` is False), then
    ``policies`` in order."""
    from sealgate.policy import builtin_policy_root

    return [builtin_policy_root(), *policies] if builtin else list(policies)


_ENGINE_OPTIONS = [
    click.option(
        "--engine",
        type=click.Choice(["embedded", "opa"]),
        default="embedded",
        show_default=True,
        envvar="SEALGATE_ENGINE",
        help="Decision engine: embedded regorus, or an OPA server.",
    ),
    click.option(
        "--opa-url", envvar="SEALGATE_OPA_URL", help="OPA server root, e.g. http://127.0.0.1:8181."
    ),
    click.option(
        "--opa-timeout",
        type=click.FloatRange(min=0, min_open=True),
        envvar="SEALGATE_OPA_TIMEOUT",
        metavar="SECONDS",
        help="Deny an input whose OPA decision takes longer  [default: 5]",
    ),
    click.option(
        "--opa-deadline",
        type=click.FloatRange(min=0, min_open=True),
        envvar="SEALGATE_OPA_DEADLINE",
        metavar="SECONDS",
        help="Deadline for every OPA decision of the run; after it, remaining inputs are "
        "denied without asking  [default: 120]",
    ),
    click.option(
        "--opa-max-answer",
        type=click.IntRange(min=1),
        envvar="SEALGATE_OPA_MAX_ANSWER",
        metavar="BYTES",
        help="Deny an input whose OPA answer is larger  [default: 4194304]",
    ),
    click.option(
        "--opa-push",
        is_flag=True,
        help="Upload the local policies to the OPA server first (development; production loads signed bundles).",
    ),
]


def engine_options(function: F) -> F:
    """``--engine``, ``--opa-url``, the OPA limits (``opa_limits(...)`` of the three values)
    and ``--opa-push``."""
    for option in reversed(_ENGINE_OPTIONS):
        function = option(function)
    return function


def opa_limits(
    opa_timeout: float | None, opa_deadline: float | None, opa_max_answer: int | None
) -> OpaLimits:
    """The OPA client's limits from the engine options (unset ones keep their default)."""
    from sealgate.policy._opa_limits import OpaLimits

    defaults = OpaLimits()
    return OpaLimits(
        opa_timeout or defaults.decision_timeout,
        opa_deadline or defaults.run_deadline,
        opa_max_answer or defaults.max_answer_bytes,
    )


def trust_option(function: F) -> F:
    function = click.option(
        "--version", "expect_version", help="Fail unless the sealed model has this version."
    )(function)
    function = click.option(
        "--name", "expect_name", help="Fail unless the sealed model has this name."
    )(function)
    return click.option(
        "--trust",
        required=True,
        type=click.Path(path_type=Path),
        help="Trust file (YAML) or a signer's PEM public key.",
    )(function)


def registry_option(function: F) -> F:
    return click.option(
        "--registry",
        "registry_url",
        required=True,
        envvar="SEALGATE_REGISTRY",
        help="file://PATH or azblob://ACCOUNT/CONTAINER[?endpoint=URL&audit_container=NAME].",
    )(function)


requester_options = [
    click.option(
        "--requester-key",
        envvar="SEALGATE_REQUESTER_KEY",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Sign the request with this ECDSA P-256 key (listed in --requesters): the "
        "requester becomes key:<key id>.",
    ),
    click.option(
        "--oidc-token",
        envvar="SEALGATE_OIDC_TOKEN_FILE",
        type=click.Path(path_type=Path, dir_okay=False),
        help="A CI OIDC token file (GitHub Actions, Azure Pipelines) from an issuer configured "
        "in the promotion policy data: the requester becomes oidc:<issuer>#<subject>.",
    ),
    click.option(
        "--requesters",
        envvar="SEALGATE_REQUESTERS",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Requesters file (trust-file format): the keys that may sign requests.",
    ),
    click.option(
        "--requester",
        envvar="SEALGATE_REQUESTER",
        help="A display label for an unauthenticated request (decides nothing; stages that "
        "need an authenticated requester deny it).",
    ),
]


def gate_options(function: F) -> F:
    options = [
        registry_option,
        click.option(
            "--trust",
            required=True,
            type=click.Path(path_type=Path),
            help="Trust file (YAML) or PEM key of the signers whose sealed models may be promoted.",
        ),
        click.option(
            "--gate-key",
            required=True,
            envvar="SEALGATE_GATE_KEY",
            type=click.Path(path_type=Path),
            help="The gate's ECDSA P-256 private key: signs every audit record.",
        ),
        *requester_options,
        policies_option,
        engine_options,
        click.option("--json", "json_output", is_flag=True, help="Print a JSON summary."),
    ]
    for option in reversed(options):
        function = option(function)
    return function
