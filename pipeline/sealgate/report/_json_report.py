"""Machine-readable JSON: every finding with its rule, location and waiver."""

from __future__ import annotations

import json
from dataclasses import asdict

from sealgate import __version__
from sealgate.policy._decision import GateResult
from sealgate.report._common import is_blocking, line_of, ordered


def render(result: GateResult) -> str:
    findings = [
        {
            "id": f.rule_id,
            "title": result.rules[f.rule_id].title if f.rule_id in result.rules else f.rule_id,
            "severity": f.severity.value,
            "message": f.message,
            "target": f.target,
            "file": f.file,
            "line": line_of(f),
            "path": list(f.path),
            "package": f.package,
            "blocking": is_blocking(result, f),
            "suppressed": f.suppressed,
            "waiver": asdict(f.waiver) if f.waiver else None,
        }
        for f in ordered(result.findings)
    ]
    document = {
        "tool": "sealgate",
        "version": __version__,
        "passed": result.passed,
        "engine": result.engine,
        "fail_on": result.fail_on.value,
        "summary": {
            "inputs": result.inputs_evaluated,
            "input_errors": result.input_errors,
            "findings": len(result.findings),
            "blocking": len(result.blocking),
            "suppressed": len(result.suppressed),
        },
        "findings": findings,
    }
    return json.dumps(document, indent=2) + "\n"
