"""The ``sealgate`` command: wires arguments to the library, prints, and sets the exit code.

Nothing below this package prints or exits. Exit codes: 0 pass, 1 policy violations or a
decision that failed closed, 2 usage or input error (also a file system that refused a
write), 3 a service did not answer (retry later).
"""

from __future__ import annotations

import logging
import os
import sys

import click

from sealgate._storage_errors import StorageError, is_storage_refusal, refusal_reason

# Command modules (_check, _sealing, ...) load on first use: see _app.COMMAND_MODULES.
from sealgate.cli._app import cli
from sealgate.errors import ExitCode, SealgateError, UnavailableError

__all__ = ["cli", "main"]


def _fail(message: str, code: ExitCode) -> None:
    click.echo(f"sealgate: error: {message}", err=True)
    sys.exit(int(code))


def _command(argv: list[str] | None) -> str:
    """The command's name (``push``, ``unseal``...) for messages about the environment."""
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    command = cli.commands.get(words[0]) if words else None
    if isinstance(command, click.Group) and len(words) > 1 and words[1] in command.commands:
        return f"{words[0]} {words[1]}"
    return words[0] if command is not None else "sealgate"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: never lets a traceback reach the user."""
    debug = os.environ.get("SEALGATE_DEBUG") == "1"
    if not debug:
        # The Azure SDK logs its failures as warnings (to stderr, through logging's last
        # resort); the one-line error already says what failed.
        logging.getLogger("azure").addHandler(logging.NullHandler())
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
        if isinstance(exc, (StorageError, UnavailableError)):
            # Not the input's fault: say which operation the environment stopped.
            _fail(f"{_command(argv)}: {exc}", exc.exit_code)
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INPUT)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(int(ExitCode.INPUT))
    except Exception as exc:  # fail closed: an unexpected fault is never a pass
        if debug:
            raise
        if isinstance(exc, OSError) and is_storage_refusal(exc):
            # A refusal the operation did not describe itself: still one line with the path.
            path = exc.filename
            where = f": {os.fsdecode(path)}" if isinstance(path, (str, bytes)) else ""
            _fail(f"{_command(argv)}{where}: {refusal_reason(exc)}", ExitCode.INPUT)
        _fail(
            f"internal error: {type(exc).__name__}: {exc} (set SEALGATE_DEBUG=1 for a traceback)",
            ExitCode.INPUT,
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
