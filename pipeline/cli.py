"""The ``sealgate`` command: wires arguments to the library, prints, and sets the exit code.

Nothing below this module prints or exits. Exit codes: 0 pass, 1 policy violations or a
decision that failed closed, 2 usage or input error.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import click

from pipeline import __version__
from pipeline.errors import ExitCode, InputError, SealgateError

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


def _write_atomically(path: Path, text: str) -> None:
    """Write a report so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write report: {exc.strerror or exc}") from exc


def _emit_reports(result: object, formats: tuple[str, ...], outputs: tuple[Path, ...]) -> None:
    from pipeline.report import render

    formats = formats or ("text",)
    if len(outputs) > len(formats):
        raise click.UsageError("more --output than --format options")
    to_stdout = formats[len(outputs):]
    if len(to_stdout) > 1:
        raise click.UsageError("only one --format may go to standard output; add --output FILE")
    rendered = [render(name, result) for name in formats]  # render all before writing any
    for text, path in zip(rendered, outputs, strict=False):
        _write_atomically(path, text)
    if to_stdout:
        click.echo(rendered[-1], nl=False)


_ENGINE_OPTIONS = [
    click.option(
        "--engine",
        type=click.Choice(["embedded", "opa"]),
        default="embedded",
        show_default=True,
        envvar="SEALGATE_ENGINE",
        help="Decision engine: embedded regorus, or an OPA server.",
    ),
    click.option("--opa-url", envvar="SEALGATE_OPA_URL", help="OPA server root, e.g. http://127.0.0.1:8181."),
    click.option(
        "--opa-push",
        is_flag=True,
        help="Upload the local policies to the OPA server first (development; production loads signed bundles).",
    ),
]


def _engine_options(function):  # type: ignore[no-untyped-def]
    for option in reversed(_ENGINE_OPTIONS):
        function = option(function)
    return function


# --------------------------------------------------------------------------------------------
# check: the pull-request gate


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--policies",
    "policy_dir",
    type=click.Path(path_type=Path),
    default=Path("policies"),
    show_default=True,
    help="Policy tree to load.",
)
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(path_type=Path),
    help="Waivers file  [default: policies/data/waivers.yaml when present]",
)
@_engine_options
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["text", "json", "sarif", "junit", "markdown", "github"]),
    help="Report format; repeat for several, each paired with an --output in order.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the matching --format here instead of standard output.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["critical", "high", "medium", "low", "info"]),
    default="low",
    show_default=True,
    help="Lowest severity that fails the gate.",
)
def check(
    paths: tuple[Path, ...],
    policy_dir: Path,
    waivers_path: Path | None,
    engine: str,
    opa_url: str | None,
    opa_push: bool,
    formats: tuple[str, ...],
    outputs: tuple[Path, ...],
    fail_on: str,
) -> None:
    """Gate files and folders (default: this repository) against every policy."""
    from pipeline.inputs.discovery import discover, load_inputs
    from pipeline.inputs.kinds import ParseContext
    from pipeline.inputs.model import InputProblem
    from pipeline.inputs.waivers import WAIVERS_FILE, waiver_input
    from pipeline.paths import display_path
    from pipeline.policy.decision import Severity
    from pipeline.policy.engine import create_engine
    from pipeline.policy.gate import run_gate
    from pipeline.policy.loader import load_policy_set

    policy_set = load_policy_set([policy_dir])
    decision_engine = create_engine(engine, policy_set, opa_url=opa_url, push_policies=opa_push)
    context = ParseContext()
    if waivers_path is None and WAIVERS_FILE.is_file():
        waivers_path = WAIVERS_FILE
    waivers_file = None
    if waivers_path is not None:
        try:
            waivers_file = waiver_input(waivers_path, context.today)
        except InputError as exc:
            waivers_file = InputProblem(display_path(waivers_path), str(exc))
    candidates = discover(paths or (Path.cwd(),))
    result = run_gate(
        policy_set,
        decision_engine,
        load_inputs(candidates, context),
        waivers_file=waivers_file,
        fail_on=Severity(fail_on),
    )
    _emit_reports(result, formats, outputs)
    if result.input_errors:
        sys.exit(int(ExitCode.INPUT))
    sys.exit(int(ExitCode.OK if result.passed else ExitCode.DENIED))


# --------------------------------------------------------------------------------------------
# policy: the Rego policy core


@cli.group()
def policy() -> None:
    """Test, inspect and package the Rego policies."""


@policy.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--coverage-min",
    type=click.FloatRange(0, 100),
    help="Fail when total rule coverage (percent of policy lines) is below this.",
)
@click.option("-v", "--verbose", is_flag=True, help="List passing tests too.")
def policy_test(paths: tuple[Path, ...], coverage_min: float | None, verbose: bool) -> None:
    """Run every test_* rule in *_test.rego (like `opa test`), the samples, and coverage."""
    from pipeline.inputs.kinds import ParseContext, parse_file
    from pipeline.policy.loader import load_policy_set
    from pipeline.policy.testing import run_policy_tests

    def parse_sample(kind: str, path: Path, suite: dict) -> list:  # type: ignore[type-arg]
        today = suite.get("today")
        context = ParseContext(date.fromisoformat(str(today))) if today else ParseContext()
        return parse_file(kind, path, context)

    policy_set = load_policy_set(list(paths) or [Path("policies")])
    report = run_policy_tests(policy_set, parse_sample)
    for outcome in report.outcomes:
        if not outcome.passed:
            click.echo(f"FAIL {outcome.file}:{outcome.line}: {outcome.name}: {outcome.reason}")
        elif verbose:
            click.echo(f"PASS {outcome.file}:{outcome.line}: {outcome.name}")
    click.echo("coverage:")
    for entry in report.coverage:
        click.echo(f"  {entry.percent:6.1f}%  {entry.file} ({entry.covered}/{entry.total} lines)")
    click.echo(f"  {report.total_coverage:6.1f}%  total")
    below = coverage_min is not None and report.total_coverage < coverage_min
    if below:
        click.echo(f"coverage {report.total_coverage:.1f}% is below --coverage-min {coverage_min:g}%")
    click.echo(
        f"tests: {sum(o.passed for o in report.tests)} passed, "
        f"{sum(not o.passed for o in report.tests)} failed; samples and conventions: "
        f"{sum(o.passed for o in report.samples + report.conventions)} passed, "
        f"{sum(not o.passed for o in report.samples + report.conventions)} failed"
    )
    click.echo(f"{report.passed} passed, {report.failed} failed")
    if report.failed or below:
        sys.exit(int(ExitCode.DENIED))


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
