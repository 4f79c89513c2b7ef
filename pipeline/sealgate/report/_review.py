"""The preview review for platform engineers: what a plan changes, per component, how its
security posture compares with another stack, what the gate decided, and a diagram.

Rendering only: ``sealgate.gate`` loads the plans and gates them. Only the reviewed stack is
gated; the other stack is read for its posture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sealgate.policy._decision import GateResult
from sealgate.report import _markdown as markdown
from sealgate.report._diagram import mermaid
from sealgate.report._plan_view import CHANGES, PlanView
from sealgate.report._posture import Bar, Value, posture

PULUMI_PLAN_KIND = "pulumi-plan"
MARKS = {True: "✅", False: "❌", None: "⚪"}


@dataclass
class PlanSource:
    """One stack's plan and where it came from (``file`` is None for an offline build)."""

    plan: dict[str, Any]
    view: PlanView
    file: Path | None
    label: str  # how findings name the plan: the preview file, or Pulumi.<stack>.yaml


def _counts_row(counts: dict[str, int]) -> list[str]:
    return [str(counts.get(change, 0)) for change in CHANGES]


def _summary(main: PlanSource, result: GateResult, against: PlanSource | None) -> str:
    counts = main.view.counts()
    changes = ", ".join(f"{counts.get(c, 0)} {c}" for c in CHANGES[:4])
    verdict = "PASS" if result.passed else "FAIL"
    line = (
        f"**Stack `{main.view.stack}`**: {len(main.view.resources)} resources ({changes}, "
        f"{counts.get('same', 0)} unchanged) · gate **{verdict}**"
    )
    if against is not None:
        line += f" · posture compared with `{against.view.stack}`"
    source = "offline plan of" if main.file is None else "preview"
    return f"{line}\n\nPlan: {source} `{markdown.cell(main.label)}`."


def _components_table(view: PlanView) -> list[str]:
    header = ["Component", "Name", "Resources", *(c.capitalize() for c in CHANGES[:4]), "Same"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "--:|" * (len(header) - 2)]
    for component in view.components:
        counts = component.counts()
        name = markdown.cell(component.name)
        lines.append(
            f"| {markdown.cell(component.label)} | `{name}` | {len(component.resources)} | "
            + " | ".join(_counts_row(counts))
            + " |"
        )
    return lines


def _posture_cell(value: Value | None) -> str:
    if value is None:
        return f"{MARKS[None]} not in plan"
    return f"{MARKS[value.ok]} {markdown.cell(value.text)}"


def _posture_table(main: PlanSource, against: PlanSource | None, bar: Bar) -> list[str]:
    stacks = [main] + ([against] if against is not None else [])
    header = ["Concern", "Property", *(f"`{s.view.stack}`" for s in stacks)]
    if against is not None:
        header.append("Differs")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    columns = [posture(s.view, bar) for s in stacks]
    for row in zip(*columns, strict=True):
        prop = row[0][0]
        cells = [_posture_cell(value) for _, value in row]
        line = [prop.concern, markdown.cell(prop.label), *cells]
        if against is not None:
            line.append("**≠**" if len(set(cells)) > 1 else "")
        lines.append("| " + " | ".join(line) + " |")
    return lines


def render_review(
    main: PlanSource, result: GateResult, against: PlanSource | None, bar: Bar
) -> str:
    """The review as GitHub-flavoured Markdown."""
    out = [
        f"# Preview review: `{main.view.stack}`",
        "",
        _summary(main, result, against),
        "",
        "## Resources by component",
        "",
        *_components_table(main.view),
        "",
        "## Security posture",
        "",
        f"{MARKS[True]} meets the production bar · {MARKS[False]} does not · "
        f"{MARKS[None]} no such resource in the plan"
        + (" · **≠** the stacks differ" if against is not None else ""),
        "",
        *_posture_table(main, against, bar),
        "",
        "## Gate findings",
        "",
        markdown.render(result).rstrip(),
        "",
        "## Platform diagram",
        "",
        "Components are subgraphs; solid arrows are references between resources, dotted "
        "arrows parent links; supporting resources are counted per component.",
        "",
        "```mermaid",
        mermaid(main.view).rstrip(),
        "```",
    ]
    return "\n".join(out) + "\n"


_STYLE = """body{font-family:system-ui,sans-serif;max-width:75rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem}
th{background:#f4f4f4}code{background:#f4f4f4;padding:0 .2rem}
pre.mermaid{background:#fafafa;border:1px solid #ddd;padding:1rem;overflow:auto}"""


def render_html(review: str, title: str) -> str:
    """The Markdown review as one self-contained page (no scripts, no external resources);
    the diagram's Mermaid source sits in ``<pre class="mermaid">`` for a Mermaid renderer."""
    from markdown_it import MarkdownIt
    from markdown_it.common.utils import escapeHtml
    from markdown_it.renderer import RendererHTML

    parser = MarkdownIt("commonmark", {"html": True}, renderer_cls=RendererHTML).enable("table")
    # MarkdownIt types its renderer as the bare RendererProtocol, whatever renderer_cls built it.
    default_fence = cast(RendererHTML, parser.renderer).rules["fence"]

    def fence(self: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
        token = tokens[index]
        if token.info.strip() == "mermaid":
            return f'<pre class="mermaid">{escapeHtml(token.content)}</pre>\n'
        return str(default_fence(tokens, index, options, env))

    parser.add_render_rule("fence", fence)
    body = parser.render(review)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escapeHtml(title)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )
