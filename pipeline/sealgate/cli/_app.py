"""The root ``sealgate`` command group; each command group lives in a module of its own."""

from __future__ import annotations

import os

import click

from sealgate import __version__

# anyhow (inside the embedded engine) appends a Rust backtrace to every error message when
# RUST_BACKTRACE is set; users need the one-line reason, not the engine's stack.
os.environ["RUST_LIB_BACKTRACE"] = "0"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sealgate")
def cli() -> None:
    """Seal, promote and unseal AI models behind policy gates; gate infrastructure and containers."""
