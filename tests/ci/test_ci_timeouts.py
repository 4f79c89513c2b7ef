"""Every CI template bounds the gate job's time: GitHub Actions `timeout-minutes`, Azure
Pipelines `timeoutInMinutes` on the job (and on the gate step), in the repository's own files
and in the job snippets of docs/ci.md. A composite action's steps cannot set a job timeout,
so `action.yml`'s usage example sets it on the job that uses the action."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

GITHUB = REPO / ".github" / "workflows" / "sealgate.yml"
AZURE = REPO / "azure-pipelines.yml"
ACTION = REPO / "action.yml"
DOCS = REPO / "docs" / "ci.md"
MAX_MINUTES = 60  # a bound well below either service's default (6 h, 60 min)


def _bounded(value: object) -> bool:
    return isinstance(value, int) and 0 < value <= MAX_MINUTES


def _gate_step(steps: list[dict[str, object]], key: str) -> dict[str, object]:
    return next(s for s in steps if "sealgate check" in str(s.get(key, "")))


def test_the_github_workflow_bounds_the_gate_job_and_step() -> None:
    job = yaml.safe_load(GITHUB.read_text())["jobs"]["gate"]
    assert _bounded(job.get("timeout-minutes")), job.get("timeout-minutes")
    step = _gate_step(job["steps"], "run")
    assert _bounded(step.get("timeout-minutes"))
    assert step["timeout-minutes"] < job["timeout-minutes"]  # type: ignore[operator]


def test_the_azure_pipeline_bounds_the_gate_job_and_step() -> None:
    [job] = yaml.safe_load(AZURE.read_text())["jobs"]
    assert _bounded(job.get("timeoutInMinutes")), job.get("timeoutInMinutes")
    step = _gate_step(job["steps"], "script")
    assert _bounded(step.get("timeoutInMinutes"))
    assert step["timeoutInMinutes"] < job["timeoutInMinutes"]


def test_the_composite_actions_usage_example_sets_the_job_timeout() -> None:
    lines = ACTION.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "In a workflow:" in line)
    example = []
    for line in lines[start + 1 :]:
        if not line.startswith("#"):
            break
        example.append(line[4:] if line.startswith("#   ") else "")
    job = yaml.safe_load("\n".join(example))
    assert _bounded(job.get("timeout-minutes")), example
    # Composite actions have no job to bound: no step of it claims to set one.
    runs = yaml.safe_load(ACTION.read_text())["runs"]
    assert runs["using"] == "composite"


def _yaml_blocks(text: str) -> list[object]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def test_every_job_snippet_in_the_ci_docs_sets_a_timeout() -> None:
    blocks = _yaml_blocks(DOCS.read_text())
    github_jobs = [b for b in blocks if isinstance(b, dict) and "steps" in b]
    azure_jobs = [
        job
        for b in blocks
        if isinstance(b, dict) and "jobs" in b
        for job in b["jobs"]  # type: ignore[union-attr]
    ]
    assert len(github_jobs) == 2 and len(azure_jobs) == 1  # the workflow, the action, Azure
    for job in github_jobs:
        assert _bounded(job.get("timeout-minutes")), job  # type: ignore[union-attr]
    for job in azure_jobs:
        assert _bounded(job.get("timeoutInMinutes")), job
        assert _bounded(_gate_step(job["steps"], "script").get("timeoutInMinutes"))
    # The documented workflow bounds its gate step too.
    workflow = next(j for j in github_jobs if any("sealgate check" in str(s) for s in j["steps"]))  # type: ignore[union-attr, index]
    assert _bounded(_gate_step(workflow["steps"], "run").get("timeout-minutes"))  # type: ignore[index]
