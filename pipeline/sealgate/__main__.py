"""``python -m sealgate``: the same as the ``sealgate`` command."""

from sealgate.cli import main

main()
