"""Which TPM connections (tpm2-tss TCTI strings) sealgate opens: a TPM device or a simulator.

tpm2-tss loads the TCTI library a string names and hands it the rest; ``cmd:`` runs a
command and others load arbitrary plugins, so a TCTI read from a file (an enrolment record)
must never reach tpm2-tss unchecked. Accepted:

- ``device`` or ``device:/dev/tpmrm<N>`` / ``device:/dev/tpm<N>``;
- ``mssim`` / ``swtpm`` with optional ``host=NAME``, ``port=N`` (and for ``swtpm`` also
  ``path=/absolute/socket``), comma-separated, each at most once.
"""

from __future__ import annotations

import re

from sealgate.errors import InputError

MAX_TCTI_LENGTH = 512
_DEVICE_PATH = re.compile(r"^/dev/tpm(rm)?[0-9]{1,3}$")
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]{2,45}\]?$")
_SOCKET_PATH = re.compile(r"^/[A-Za-z0-9._/-]{1,255}$")
_SIMULATOR_KEYS = {"mssim": {"host", "port"}, "swtpm": {"host", "port", "path"}}


def _simulator_problem(kind: str, arguments: str) -> str | None:
    if not arguments:
        return None
    seen: set[str] = set()
    for part in arguments.split(","):
        key, equals, value = part.partition("=")
        if not equals or key not in _SIMULATOR_KEYS[kind]:
            allowed = ", ".join(sorted(_SIMULATOR_KEYS[kind]))
            return f"{kind}: arguments are key=value pairs of {allowed}"
        if key in seen:
            return f"{kind}: {key} is given twice"
        seen.add(key)
        if key == "host" and not _HOST.match(value):
            return f"{kind}: host {value!r} is not a host name or IP address"
        if key == "port" and not (value.isdigit() and 0 < int(value) < 65536):
            return f"{kind}: port {value!r} is not a port number"
        if key == "path" and (not _SOCKET_PATH.match(value) or "/../" in f"{value}/"):
            return f"{kind}: path {value!r} is not an absolute socket path"
    return None


def tcti_problem(tcti: str) -> str | None:
    """Why ``tcti`` is not an accepted TPM connection string; ``None`` if it is."""
    if len(tcti) > MAX_TCTI_LENGTH or not tcti.isascii() or not tcti.isprintable():
        return "not a short printable ASCII string"
    kind, _colon, arguments = tcti.partition(":")
    if kind == "device":
        if arguments and not _DEVICE_PATH.match(arguments):
            return f"device: {arguments!r} is not a TPM device (/dev/tpmrmN or /dev/tpmN)"
        return None
    if kind in _SIMULATOR_KEYS:
        return _simulator_problem(kind, arguments)
    return f"TCTI {kind!r} is not accepted (use device:, mssim: or swtpm:)"


def check_tcti(tcti: object, source: str) -> str:
    """``tcti`` when it is an accepted TPM connection string, else an ``InputError``."""
    if not isinstance(tcti, str):
        raise InputError(f"{source}: tcti must be a string")
    problem = tcti_problem(tcti)
    if problem:
        raise InputError(f"{source}: refusing TCTI {tcti[:80]!r}: {problem}")
    return tcti
