"""Options that several commands share, declared once."""

from __future__ import annotations

from pathlib import Path

import click

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
        "--opa-push",
        is_flag=True,
        help="Upload the local policies to the OPA server first (development; production loads signed bundles).",
    ),
]


def engine_options(function):  # type: ignore[no-untyped-def]
    for option in reversed(_ENGINE_OPTIONS):
        function = option(function)
    return function


def trust_option(function):  # type: ignore[no-untyped-def]
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


def registry_option(function):  # type: ignore[no-untyped-def]
    return click.option(
        "--registry",
        "registry_url",
        required=True,
        envvar="SEALGATE_REGISTRY",
        help="file://PATH or azblob://ACCOUNT/CONTAINER[?endpoint=URL&audit_container=NAME].",
    )(function)


def gate_options(function):  # type: ignore[no-untyped-def]
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
        click.option(
            "--requester",
            required=True,
            envvar="SEALGATE_REQUESTER",
            help="Who asks for this (the audit actor; may not approve it).",
        ),
        click.option(
            "--policies",
            "policy_dir",
            type=click.Path(path_type=Path),
            default=Path("policies"),
            show_default=True,
            help="Policy tree (the promotion policies and policies/data/promotion.yaml).",
        ),
        engine_options,
        click.option("--json", "json_output", is_flag=True, help="Print a JSON summary."),
    ]
    for option in reversed(options):
        function = option(function)
    return function
