"""The gate's configuration: built-in defaults, then ``.sealgate.yaml``, then flags.

The repository root is the git top level of the working directory, else the nearest folder
upwards holding ``.sealgate.yaml``, else the working directory. Paths in the file are
relative to the file's folder; every value remembers where it came from.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sealgate._limits import DEFAULT_LIMITS, ParseLimits
from sealgate.errors import InputError
from sealgate.inputs._discovery import DEFAULT_EXCLUDES
from sealgate.inputs._structured import load_structured_documents
from sealgate.policy import builtin_policy_root
from sealgate.policy._decision import Severity
from sealgate.policy._opa_limits import (
    DEFAULT_DECISION_TIMEOUT,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_RUN_DEADLINE,
    OpaLimits,
)
from sealgate.policy._selection import RuleSelection

CONFIG_FILE = ".sealgate.yaml"
DEFAULT_WAIVERS = Path("policies/data/waivers.yaml")
ENGINES = ("embedded", "opa")


@dataclass(frozen=True)
class GateConfig:
    """The effective settings of one gate run; ``sources`` says where each came from."""

    root: Path
    config_file: Path | None = None
    policies: tuple[Path, ...] = ()
    builtin_policies: bool = True
    data: tuple[Path, ...] = ()
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    fail_on: Severity = Severity.LOW
    waivers: Path | None = None
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    engine: str = "embedded"
    opa_url: str | None = None
    opa_timeout: float = DEFAULT_DECISION_TIMEOUT  # seconds per decision (one input)
    opa_deadline: float = DEFAULT_RUN_DEADLINE  # seconds for every OPA decision of the run
    opa_max_answer: int = DEFAULT_MAX_ANSWER_BYTES  # bytes of one answer
    jobs: int | None = None
    limits: ParseLimits = DEFAULT_LIMITS  # parse limits of every input (``limits.<name>``)
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def policy_roots(self) -> list[Path]:
        """The built-in policies (unless turned off), then each user folder, in order."""
        return [*([builtin_policy_root()] if self.builtin_policies else []), *self.policies]

    @property
    def excludes(self) -> tuple[str, ...]:
        """What a directory scan skips: ``exclude`` (default list) plus ``extend_exclude``."""
        return (*self.exclude, *self.extend_exclude)

    @property
    def opa_limits(self) -> OpaLimits:
        return OpaLimits(self.opa_timeout, self.opa_deadline, self.opa_max_answer)

    @property
    def selection(self) -> RuleSelection:
        return RuleSelection(self.enable, self.disable)

    def as_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON values, with its source."""
        shown: dict[str, Any] = {}
        for name in SETTINGS:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = [str(v) for v in value]
            elif isinstance(value, ParseLimits):
                value = value.as_dict()
            elif isinstance(value, Path | Severity):
                value = str(value.value if isinstance(value, Severity) else value)
            shown[name] = {"value": value, "source": self.sources.get(name, "default")}
        return shown


def find_root(start: Path) -> Path:
    """The repository root for paths in reports and waivers (see the module docstring)."""
    start = start.resolve()
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=start,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        if top:
            return Path(top).resolve()
    except (OSError, subprocess.SubprocessError):
        pass
    for folder in [start, *start.parents]:
        if (folder / CONFIG_FILE).is_file():
            return folder
    return start


# Each setting: how a value from the file is checked and converted (relative to the file).
def _paths(value: Any, base: Path, where: str) -> tuple[Path, ...]:
    return tuple(base / item for item in _strings(value, base, where))


def _strings(value: Any, base: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def _boolean(value: Any, base: Path, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{where}: expected true or false")
    return value


def _severity(value: Any, base: Path, where: str) -> Severity:
    try:
        return Severity(str(value).lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise InputError(f"{where}: {value!r} is not one of {allowed}") from None


def _path(value: Any, base: Path, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: expected a path")
    return base / value


def _engine(value: Any, base: Path, where: str) -> str:
    if value not in ENGINES:
        raise InputError(f"{where}: {value!r} is not one of {', '.join(ENGINES)}")
    return str(value)


def _url(value: Any, base: Path, where: str) -> str | None:
    if value is not None and not (isinstance(value, str) and value):
        raise InputError(f"{where}: expected a URL")
    return value


def _seconds(value: Any, base: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"{where}: expected a positive number of seconds")
    return float(value)


def _bytes(value: Any, base: Path, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{where}: expected a positive number of bytes")
    return value


def _jobs(value: Any, base: Path, where: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InputError(f"{where}: expected a positive number of worker processes")
    return value


def _limits(value: Any, base: Path, where: str) -> ParseLimits:
    return ParseLimits.from_mapping(value, where)


SETTINGS: dict[str, Callable[[Any, Path, str], Any]] = {
    "policies": _paths,
    "builtin_policies": _boolean,
    "data": _paths,
    "enable": _strings,
    "disable": _strings,
    "fail_on": _severity,
    "waivers": _path,
    "exclude": _strings,
    "extend_exclude": _strings,
    "engine": _engine,
    "opa_url": _url,
    "opa_timeout": _seconds,
    "opa_deadline": _seconds,
    "opa_max_answer": _bytes,
    "jobs": _jobs,
    "limits": _limits,
}
assert set(SETTINGS) == {f.name for f in fields(GateConfig)} - {"root", "config_file", "sources"}


@dataclass(frozen=True)
class Override:
    """A value given on the command line or in the environment, and how it was given."""

    value: Any
    source: str


def load_config(
    root: Path,
    *,
    config_file: Path | None = None,
    read_file: bool = True,
    overrides: Mapping[str, Override] | None = None,
) -> GateConfig:
    """Defaults, then the configuration file (``root/.sealgate.yaml`` unless another is
    named), then ``overrides``; ``read_file=False`` ignores the file."""
    config = GateConfig(root=root)
    sources: dict[str, str] = {}
    path = config_file if config_file is not None else root / CONFIG_FILE
    if read_file and (config_file is not None or path.is_file()):
        values, lines = _read_file(path)
        base = path.resolve().parent
        shown = path.name if base == root.resolve() else str(path)
        updates: dict[str, Any] = {}
        for key, value in values.items():
            where = f"{shown}:{lines.get(key, 1)}"
            if key not in SETTINGS:
                known = ", ".join(SETTINGS)
                raise InputError(f"{where}: unknown setting {key!r} (known: {known})")
            updates[key] = SETTINGS[key](value, base, f"{where}: {key}")
            sources[key] = where
        config = replace(config, config_file=path, **updates)
    for key, override in (overrides or {}).items():
        if key not in SETTINGS:
            raise InputError(f"unknown setting {key!r}")
        config = replace(config, **{key: override.value})
        sources[key] = override.source
    if "waivers" not in sources and (root / DEFAULT_WAIVERS).is_file():
        config = replace(config, waivers=root / DEFAULT_WAIVERS)
    if config.engine == "opa" and not config.opa_url:
        raise InputError("engine opa needs an OPA server URL (--opa-url or opa_url)")
    return replace(config, sources=sources)


def _read_file(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    if not path.is_file():
        raise InputError(f"{path}: no such configuration file")
    documents = load_structured_documents(path)
    if not documents or documents[0].value is None:
        return {}, {}
    if len(documents) != 1 or not isinstance(documents[0].value, dict):
        raise InputError(f"{path}: the configuration is one YAML mapping of settings")
    document = documents[0]
    lines = {str(key): document.lines.get((key,), 1) for key in document.value}
    return {str(k): v for k, v in document.value.items()}, lines
