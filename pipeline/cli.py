"""The ``sealgate`` command: wires arguments to the library, prints, and sets the exit code.

Nothing below this module prints or exits. Exit codes: 0 pass, 1 policy violations or a
decision that failed closed, 2 usage or input error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from pipeline import __version__
from pipeline.errors import ExitCode, SealgateError

# anyhow (inside the embedded engine) appends a Rust backtrace to every error message when
# RUST_BACKTRACE is set; users need the one-line reason, not the engine's stack.
os.environ["RUST_LIB_BACKTRACE"] = "0"


def _fail(message: str, code: ExitCode) -> None:
    click.echo(f"sealgate: error: {message}", err=True)
    sys.exit(int(code))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sealgate")
def cli() -> None:
    """Seal, promote and unseal AI models behind policy gates; gate infrastructure and containers."""


# --------------------------------------------------------------------------------------------
# policy: the Rego policy core


@cli.group()
def policy() -> None:
    """Test, inspect and package the Rego policies."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: never lets a traceback reach the user."""
    debug = os.environ.get("SEALGATE_DEBUG") == "1"
    try:
        cli.main(args=argv, prog_name="sealgate", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(int(ExitCode.INPUT))
    except click.exceptions.Abort:
        _fail("aborted", ExitCode.INPUT)
    except SealgateError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INPUT)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(int(ExitCode.INPUT))
    except Exception as exc:  # fail closed: an unexpected fault is never a pass
        if debug:
            raise
        _fail(
            f"internal error: {type(exc).__name__}: {exc} (set SEALGATE_DEBUG=1 for a traceback)",
            ExitCode.INPUT,
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
