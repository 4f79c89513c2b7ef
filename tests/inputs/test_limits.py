"""Hostile structured input ends as one located input error (SG-GATE-004, exit 2) while the
other inputs are still gated and every report is written, serial and in forked workers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sealgate._json import loads_unique
from sealgate._limits import DEFAULT_LIMITS, LimitExceeded, ParseLimits, using_limits
from sealgate._yaml import load_yaml
from sealgate.errors import InputError
from sealgate.inputs._structured import load_structured_documents

from tests.conftest import PLAIN_POD, Run

Sealgate = Callable[..., Run]
HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile\ndata:\n  x: "
DEEP = 25_000  # levels: overflowed libyaml's composer (exit 139) before the limits


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


# file -> (content, what the one-line error says); line 6 is the `x:` line of HEAD
HOSTILE: dict[str, tuple[str, str]] = {
    "deep-flow.yaml": (
        HEAD + nested(DEEP) + "\n",
        "deep-flow.yaml:6: nesting deeper than 64 levels (limits.max_depth)",
    ),
    "deep-block.yaml": (
        HEAD + "\n" + "    " + "- " * DEEP + "x\n",
        "deep-block.yaml:7: nesting deeper than 64 levels (limits.max_depth)",
    ),
    "deep.json": (
        '{"apiVersion": "v1", "kind": "ConfigMap",\n "data": ' + nested(DEEP) + "}\n",
        "deep.json:2: nesting deeper than 64 levels (limits.max_depth)",
    ),
    # 127 levels passed the old limit of 200 and failed in the engine (SG-GATE-001, exit 1).
    "engine-deep.yaml": (
        HEAD + nested(125) + "\n",
        "engine-deep.yaml:6: nesting deeper than 64 levels (limits.max_depth)",
    ),
    "aliases.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nlist: &a ["
        + ",".join(["v"] * 3000)
        + "]\n"
        + "".join(f"k{i}: *a\n" for i in range(300)),
        "aliases.yaml:169: more than 500000 values after alias expansion (limits.max_values)",
    ),
    "text-bomb.yaml": (
        "apiVersion: v1\nkind: ConfigMap\ns: &s "
        + "x" * (1 << 20)
        + "\n"
        + "".join(f"k{i}: *s\n" for i in range(40)),
        "text-bomb.yaml:18: more than 16777216 bytes of scalar text after alias expansion "
        "(limits.max_expanded_bytes)",
    ),
    "recursive.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nloop: &l [*l]\n",
        "recursive.yaml:3: recursive alias *l",
    ),
    "nan.yaml": (HEAD + ".nan\n", "nan.yaml:6: .nan is not a number the policy engines accept"),
    "inf.yaml": (HEAD + "1.0e+400\n", "inf.yaml:6: 1.0e+400 is not a number"),
    "big-int.yaml": (
        HEAD + str(2**63) + "\n",
        f"big-int.yaml:6: integer {2**63} is outside the signed 64-bit range",
    ),
    "huge-int.json": (
        '{"apiVersion": "v1", "kind": "ConfigMap",\n "n": ' + "9" * 5000 + "}\n",
        "huge-int.json:2: integer 9999999999...999999 (5000 digits) is outside",
    ),
    # createOptions is JSON inside a JSON string: its own nesting is bounded the same way.
    "edge-deep-options.json": (
        json.dumps(
            {
                "modulesContent": {
                    "$edgeAgent": {
                        "properties.desired": {
                            "schemaVersion": "1.1",
                            "runtime": {"type": "docker", "settings": {}},
                            "systemModules": {},
                            "modules": {
                                "m": {
                                    "type": "docker",
                                    "settings": {"image": "x", "createOptions": nested(DEEP)},
                                }
                            },
                        }
                    }
                }
            }
        ),
        "module m: createOptions: line 1: nesting deeper than 64 levels (limits.max_depth)",
    ),
    "surrogate.json": (
        '{"apiVersion": "v1", "kind": "ConfigMap",\n "s": "\\ud800"}\n',
        "surrogate.json:2: found invalid Unicode character escape code",
    ),
}


def write_repository(root: Path, *, padding: int = 0) -> Path:
    root.mkdir()
    (root / "pod.yaml").write_text(PLAIN_POD)
    for name, (content, _) in HOSTILE.items():
        (root / name).write_text(content)
    for index in range(padding):  # enough files for the gate to fork its workers
        (root / f"config-{index}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{index}\n"
        )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def gate_errors(report: dict[str, object]) -> dict[str, str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return {f["file"]: f["message"] for f in findings if f["id"] == "SG-GATE-004"}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_every_hostile_class_is_a_located_input_error(
    tmp_path: Path, sealgate: Sealgate, jobs: str
) -> None:
    root = write_repository(tmp_path / "repo", padding=70 if jobs == "2" else 0)
    reports = tmp_path / "reports"
    run = sealgate(
        "check", "--jobs", jobs,
        "--format", "json", "--output", str(reports / "gate.json"),
        "--format", "sarif", "--output", str(reports / "gate.sarif"),
        "--format", "junit", "--output", str(reports / "gate.xml"),
        cwd=root,
    )  # fmt: skip
    assert run.code == 2, run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    report = json.loads((reports / "gate.json").read_text())
    errors = gate_errors(report)
    assert set(errors) == set(HOSTILE)
    for name, (_, expected) in HOSTILE.items():
        assert expected in errors[name], errors[name]
        assert "\n" not in errors[name]
    # The well-formed pod is still gated, and its findings reported.
    assert any(f["file"] == "pod.yaml" for f in report["findings"])
    sarif, junit = (reports / "gate.sarif").read_text(), (reports / "gate.xml").read_text()
    for name in HOSTILE:
        assert name in sarif and name in junit


def test_the_waivers_file_and_a_preview_take_the_same_path(
    tmp_path: Path, sealgate: Sealgate
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "pod.yaml").write_text(PLAIN_POD)
    (root / "waivers.yaml").write_text("waivers: " + nested(DEEP) + "\n")
    (root / "preview.json").write_text('{"steps":\n' + nested(DEEP) + "}\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    run = sealgate(
        "check", "pod.yaml", "--waivers", "waivers.yaml", "--preview", "preview.json",
        "--format", "json", cwd=root,
    )  # fmt: skip
    assert run.code == 2, run.stderr
    errors = gate_errors(json.loads(run.stdout))
    assert errors["waivers.yaml"].endswith(
        "waivers.yaml:1: nesting deeper than 64 levels (limits.max_depth)"
    )
    assert errors["preview.json"].endswith(
        "preview.json:2: nesting deeper than 64 levels (limits.max_depth)"
    )


def test_limits_come_from_the_configuration_file(tmp_path: Path, sealgate: Sealgate) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".sealgate.yaml").write_text("limits:\n  max_depth: 8\n  max_values: 1000\n")
    (root / "nine.yaml").write_text(HEAD + nested(7) + "\n")  # 2 + 7 levels
    (root / "list.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\ndata: [" + "1," * 2000 + "1]\n"
    )
    (root / "pod.yaml").write_text(PLAIN_POD)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    run = sealgate("check", "--format", "json", cwd=root)
    assert run.code == 2, run.stderr
    errors = gate_errors(json.loads(run.stdout))
    assert errors == {
        "nine.yaml": "nine.yaml:6: nesting deeper than 8 levels (limits.max_depth)",
        "list.yaml": "list.yaml:3: more than 1000 values after alias expansion (limits.max_values)",
    }
    shown = sealgate("config", "show", cwd=root)
    assert "'max_depth': 8, 'max_values': 1000" in shown.stdout, shown.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("limits: 3\n", ".sealgate.yaml:1: limits is a mapping of max_file_bytes"),
        ("limits:\n  max_dept: 3\n", ".sealgate.yaml:1: limits: unknown limit 'max_dept'"),
        ("limits:\n  max_depth: 0\n", "limits.max_depth expects a positive integer"),
        ("limits:\n  max_depth: 101\n", "limits.max_depth is at most 100"),
    ],
)
def test_bad_limits_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    from sealgate.gate import load_config

    (tmp_path / ".sealgate.yaml").write_text(content)
    with pytest.raises(InputError) as caught:
        load_config(tmp_path)
    assert message in str(caught.value)


def test_a_document_at_the_depth_limit_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("a: " + nested(DEFAULT_LIMITS.max_depth - 1) + "\n")
    [document] = load_structured_documents(path)
    assert document.value["a"] == json.loads(nested(DEFAULT_LIMITS.max_depth - 1))


def test_an_alias_keeps_its_value_and_is_located_at_the_alias(tmp_path: Path) -> None:
    path = tmp_path / "alias.yaml"
    path.write_text("base: &b\n  image: x\n  ports: [1, 2]\nother: *b\nkey: &k name\n*k : 3\n")
    [document] = load_structured_documents(path)
    assert document.value["other"] == {"image": "x", "ports": [1, 2]}
    assert document.value["other"] is not document.value["base"]  # a copy, not shared
    assert document.value["name"] == 3
    assert document.lines[("other",)] == 4 and document.lines[("base", "image")] == 2


def test_json_is_prescanned_before_the_recursive_decoder() -> None:
    with pytest.raises(LimitExceeded, match=r"^line 2: nesting deeper than 64 levels"):
        loads_unique('{"a":\n' + nested(100_000) + "}")
    # brackets inside strings are text, and escaped quotes do not end a string
    assert loads_unique('{"a": "[[[[\\"{{{{"}') == {"a": '[[[["{{{{'}
    assert loads_unique('["\\ud83d\\ude00"]') == ["\U0001f600"]  # a surrogate pair is text
    assert loads_unique('["\\\\ud800"]') == ["\\ud800"]  # an escaped backslash, not an escape


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN}', "line 1: NaN is not a number"),
        ('{"a":\n -Infinity}', "line 2: -Infinity is not a number"),
        ('{"a": 1e400}', "1e400 is not a number"),
        (f'{{"a": {2**63}}}', f"integer {2**63} is outside the signed 64-bit range"),
        ('["\\ud800"]', "lone UTF-16 surrogate"),
        ('{"\\udc00": 1}', "lone UTF-16 surrogate"),
    ],
)
def test_json_refuses_values_the_engines_cannot_keep(text: str, message: str) -> None:
    with pytest.raises(LimitExceeded, match=message):
        loads_unique(text, source=None)
    with pytest.raises(ValueError):  # callers that catch ValueError keep naming their file
        loads_unique(text)


def test_json_keeps_the_64_bit_range() -> None:
    assert loads_unique(f"[{-(2**63)}, {2**63 - 1}, 1.5e308]") == [-(2**63), 2**63 - 1, 1.5e308]


def test_the_trust_loader_is_bounded_too() -> None:
    with pytest.raises(InputError, match=r"^trust.yaml:1: nesting deeper than 64 levels"):
        load_yaml("keys: " + nested(DEEP), "trust.yaml")
    with (
        pytest.raises(InputError, match=r"limits.max_values"),
        using_limits(ParseLimits(max_values=100)),
    ):
        load_yaml("a: &a [" + ",".join("x" * 20) + "]\nb: [*a, *a, *a, *a, *a]\n", "t.yaml")
    assert load_yaml("a: &a [1]\nb: *a\n", "t.yaml") == {"a": [1], "b": [1]}


def test_oversized_file_names_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 2048 + "\n")
    with using_limits(ParseLimits(max_file_bytes=1024)), pytest.raises(InputError) as caught:
        load_structured_documents(path)
    assert str(caught.value).endswith("1024-byte limit (limits.max_file_bytes)")


def test_deep_evidence_is_an_input_error_not_a_recursion_error(
    tmp_path: Path, sealgate: Sealgate
) -> None:
    from sealgate.promotion._dsse import strict_json

    deep = b'{"a":\n' + nested(DEEP).encode() + b"}"
    with pytest.raises(ValueError, match="nesting deeper than 64 levels"):
        strict_json(deep)  # a signed envelope or statement read by the promotion gate
    (tmp_path / "predicate.json").write_bytes(deep)
    run = sealgate(
        "evidence", "sign", "--type", "metrics", "--predicate", "predicate.json",
        "--digest", "sha256:" + "a" * 64, "--key", "missing.pem", "--out", "out.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.code == 2
    assert run.stderr.strip() == (
        "sealgate: error: predicate.json:2: nesting deeper than 64 levels (limits.max_depth)"
    )


def test_an_alias_is_charged_the_depth_of_what_it_repeats(tmp_path: Path) -> None:
    # 40 levels anchored, repeated 30 levels down: 70 levels once expanded.
    path = tmp_path / "alias-depth.yaml"
    inner = nested(40)
    path.write_text(f"a: &deep {inner}\nb: " + "[" * 30 + "*deep" + "]" * 30 + "\n")
    with pytest.raises(InputError) as caught:
        load_structured_documents(path)
    assert str(caught.value).endswith(
        "alias-depth.yaml:2: nesting deeper than 64 levels (limits.max_depth)"
    )
    path.write_text(f"a: &deep {inner}\nb: " + "[" * 20 + "*deep" + "]" * 20 + "\n")
    [document] = load_structured_documents(path)  # 1 + 20 + 40 levels: within the limit
    assert document.value["b"] == json.loads("[" * 20 + inner + "]" * 20)
