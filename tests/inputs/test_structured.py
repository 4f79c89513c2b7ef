"""Hostile and broken YAML gets a clear input error; good YAML keeps every field's line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.inputs._structured import load_structured_documents

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""


def load_error(tmp_path: Path, content: str | bytes) -> str:
    path = tmp_path / "input.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InputError) as caught:
        load_structured_documents(path)
    return str(caught.value)


def test_lines_of_every_field(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(
        "a: 1\nspec:\n  containers:\n    - name: x\n      privileged: true\n---\nb: 2\n"
    )
    first, second = load_structured_documents(path)
    assert first.value == {"a": 1, "spec": {"containers": [{"name": "x", "privileged": True}]}}
    assert first.lines[("spec", "containers", 0, "privileged")] == 5
    assert first.lines[("spec", "containers", 0)] == 4
    assert second.line == 7 and second.lines[("b",)] == 7


def test_scalars_stay_json_compatible(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("d: 2026-01-01\nn: ~\nf: 1.5\nb: yes\nbin: !!binary aGVsbG8=\n")
    [document] = load_structured_documents(path)
    assert document.value == {"d": "2026-01-01", "n": None, "f": 1.5, "b": True, "bin": "aGVsbG8="}


def test_yaml_bomb_is_refused(tmp_path: Path) -> None:
    assert "values after alias expansion (limits.max_values)" in load_error(
        tmp_path, BILLION_LAUGHS
    )


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    message = load_error(tmp_path, "a: " + "x" * (50 * 1024 * 1024) + "\n")
    assert "larger than the" in message


def test_binary_junk_is_refused(tmp_path: Path) -> None:
    assert "binary content" in load_error(tmp_path, bytes(range(256)) * 4)


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    assert "not valid UTF-8" in load_error(tmp_path, b"a: \xff\xfe\n")


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    message = load_error(tmp_path, "spec:\n  privileged: false\n  privileged: true\n")
    assert message.endswith("input.yaml:3: duplicate key 'privileged'")


def test_merge_keys_are_refused(tmp_path: Path) -> None:
    assert "merge keys" in load_error(tmp_path, "base: &b {x: 1}\nother:\n  <<: *b\n")


def test_unclosed_template_names_the_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, "image: {{ .Values.image }}\nname: x\n")
    assert "input.yaml:1:" in message


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    assert "nesting deeper" in load_error(tmp_path, "a: " + "[" * 300 + "]" * 300 + "\n")
