"""The GitHub Action (action.yml): valid metadata, inputs that reach the gate as real flags, the
SARIF upload wired to the file the gate writes, and the gate's exit code as the job's verdict.

The gate step's script runs for real under bash, with a stand-in ``sealgate`` on PATH that
records its arguments and exits with a chosen code.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci.test_ci_templates import parse
from tests.conftest import REPO

ACTION = REPO / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(?P<expr>[^}]+?)\s*\}\}")
STAND_IN = """\
#!/usr/bin/env bash
# Records its arguments (one per line), writes each --output file unless told not to.
printf '%s\\n' "$@" > "$RECORD"
args=("$@")
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = "--output" ] && [ "$WRITE_REPORTS" = 1 ]; then
    echo '{"version": "2.1.0", "runs": []}' > "${args[$((i + 1))]}"
  fi
done
exit "$EXIT_CODE"
"""


def action() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return document


def steps() -> list[dict[str, Any]]:
    return list(action()["runs"]["steps"])


def step(step_id: str) -> dict[str, Any]:
    return next(s for s in steps() if s.get("id") == step_id)


def evaluate(text: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    """Substitute the ``${{ inputs.X }}`` and ``${{ steps.gate.outputs.X }}`` expressions."""

    def value(match: re.Match[str]) -> str:
        expression = match.group("expr")
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        if expression.startswith("steps.gate.outputs."):
            return outputs.get(expression.removeprefix("steps.gate.outputs."), "")
        raise AssertionError(f"unexpected expression {expression!r}")

    return EXPRESSION.sub(value, text)


def inputs_with(**given: str) -> dict[str, str]:
    defaults = {name: str(spec.get("default", "")) for name, spec in action()["inputs"].items()}
    return {**defaults, **{name.replace("_", "-"): value for name, value in given.items()}}


def run_step(
    spec: dict[str, Any],
    inputs: dict[str, str],
    tmp_path: Path,
    *,
    exit_code: int = 0,
    write_reports: bool = True,
) -> tuple[subprocess.CompletedProcess[str], list[str], dict[str, str]]:
    """Run a step's script as the runner does (bash -e, its env), in ``tmp_path``."""
    stand_in = tmp_path / "bin" / "sealgate"
    stand_in.parent.mkdir(exist_ok=True)
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    record = tmp_path / "argv"
    github_output = tmp_path / "github_output"
    github_output.write_text("")
    env = {
        "PATH": f"{stand_in.parent}:/usr/bin:/bin",
        "GITHUB_OUTPUT": str(github_output),
        "RECORD": str(record),
        "EXIT_CODE": str(exit_code),
        "WRITE_REPORTS": "1" if write_reports else "0",
        **{k: evaluate(str(v), inputs, {}) for k, v in (spec.get("env") or {}).items()},
    }
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", spec["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    argv = record.read_text().splitlines() if record.exists() else []
    outputs = dict(
        line.split("=", 1) for line in github_output.read_text().splitlines() if "=" in line
    )
    return result, argv, outputs


def test_the_metadata_is_a_valid_github_action() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-actions",
            str(ACTION),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert action()["runs"]["using"] == "composite"


def test_the_inputs_are_the_documented_ones() -> None:
    inputs = action()["inputs"]
    assert set(inputs) == {
        "paths",
        "args",
        "fail-on",
        "sarif-file",
        "python-version",
        "upload-sarif",
    }
    assert inputs["upload-sarif"]["default"] == "true"
    assert all(spec.get("description") for spec in inputs.values())


def test_scripts_never_splice_expressions_into_their_text() -> None:
    # Inputs travel through env: an expression inside `run` would be shell injection.
    for spec in steps():
        if "run" in spec:
            assert not EXPRESSION.search(spec["run"]), spec["name"]
            assert spec["shell"] == "bash"


def test_it_sets_up_python_and_installs_this_repository_with_the_gate_and_infra_extras() -> None:
    setup = next(s for s in steps() if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    [install] = [s for s in steps() if "pip install" in s.get("run", "")]
    words = shlex.split(install["run"])
    assert words[:3] == ["python", "-m", "pip"]
    assert words[-1] == "$GITHUB_ACTION_PATH[gate,infra]"
    assert steps().index(setup) < steps().index(install) < steps().index(step("gate"))


def test_the_default_run_gates_the_repository_with_sarif_and_annotations(tmp_path: Path) -> None:
    result, argv, outputs = run_step(step("gate"), inputs_with(), tmp_path, exit_code=0)
    assert result.returncode == 0, result.stderr
    assert argv[0] == "check"
    context = parse(argv)  # real command, real flags
    formats = context.params["formats"]
    assert formats[0] == "sarif" and formats[-1] == "github"
    assert [str(p) for p in context.params["outputs"]] == ["sealgate.sarif"]
    assert context.params["paths"] == ()  # the whole repository
    assert "--fail-on" not in argv  # the repository's configuration decides
    assert outputs == {"exit-code": "0", "sarif-written": "true"}


def test_inputs_become_flags_and_paths(tmp_path: Path) -> None:
    inputs = inputs_with(
        paths="images deploy/app.yaml",
        args="--changed-only origin/main --format markdown --output report.md",
        fail_on="high",
        sarif_file="out.sarif",
    )
    result, argv, _ = run_step(step("gate"), inputs, tmp_path)
    assert result.returncode == 0, result.stderr
    context = parse(argv)
    assert context.params["fail_on"] == "high"
    assert context.params["changed_only"] == "origin/main"
    assert [str(p) for p in context.params["paths"]] == ["images", "deploy/app.yaml"]
    # Each file report pairs with its --output; the annotations alone go to standard output.
    pairs = dict(zip(context.params["formats"], map(str, context.params["outputs"]), strict=False))
    assert pairs == {"sarif": "out.sarif", "markdown": "report.md"}
    assert context.params["formats"][-1] == "github"


@pytest.mark.parametrize("code", [1, 2])
def test_a_failed_gate_still_uploads_then_fails_with_its_code(tmp_path: Path, code: int) -> None:
    inputs = inputs_with()
    result, _, outputs = run_step(step("gate"), inputs, tmp_path, exit_code=code)
    assert result.returncode == 0, "the gate step must succeed so that the SARIF is uploaded"
    assert outputs["exit-code"] == str(code)

    upload = next(
        s for s in steps() if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")
    )
    assert "always()" in upload["if"]
    assert "inputs.upload-sarif == 'true'" in upload["if"]
    assert "steps.gate.outputs.sarif-written == 'true'" in upload["if"]
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"

    final = steps()[-1]
    assert "always()" in final["if"]
    assert "steps.gate.outputs.exit-code != '0'" in final["if"]
    env = {k: evaluate(str(v), inputs, outputs) for k, v in final["env"].items()}
    ended = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", final["run"]],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ended.returncode == code


def test_no_sarif_upload_when_the_gate_wrote_none(tmp_path: Path) -> None:
    # A gate that stops on an input error before it writes any report.
    result, _, outputs = run_step(
        step("gate"), inputs_with(), tmp_path, exit_code=2, write_reports=False
    )
    assert result.returncode == 0, result.stderr
    assert outputs == {"exit-code": "2"}
