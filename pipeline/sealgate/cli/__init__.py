"""The ``sealgate`` command: wires arguments to the library, prints, and sets the exit code.

Nothing below this package prints or exits. Exit codes: 0 pass, 1 policy violations or a
decision that failed closed, 2 usage or input error.
"""

from __future__ import annotations

import os
import sys

import click

# Command modules (_check, _sealing, ...) load on first use: see _app.COMMAND_MODULES.
from sealgate.cli._app import cli
from sealgate.errors import ExitCode, SealgateError

__all__ = ["cli", "main"]


def _fail(message: str, code: ExitCode) -> None:
    click.echo(f"sealgate: error: {message}", err=True)
    sys.exit(int(code))


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
