"""``sealgate keyserver serve``: the key release service."""

from __future__ import annotations

from pathlib import Path

import click

from sealgate.cli._app import cli


@cli.group()
def keyserver() -> None:
    """The key release service: the only holder of the right to unwrap model keys."""


@keyserver.command("serve")
@click.option(
    "--config",
    "config_path",
    required=True,
    envvar="SEALGATE_KEYSERVER_CONFIG",
    type=click.Path(path_type=Path, dir_okay=False),
    help="keyserver.yaml (see docs/key-release.md).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(2, 64), help="Worker processes."
)
def serve_command(config_path: Path, host: str, port: int, workers: int) -> None:
    """Serve the release API over HTTPS (gunicorn); refuses to start on a bad configuration."""
    from sealgate.keyserver import build_service, create_app, load_config
    from sealgate.keyserver._serve import gunicorn_options, serve

    config = load_config(config_path)
    options = gunicorn_options(config, host, port, workers)
    service = build_service(config)
    # The policy was loaded to check it; its engine belongs to a thread that the workers,
    # forked from this process, will not have: drop it here, each worker loads its own.
    service.close()
    app = create_app(
        service, operators=config.operators, max_body_bytes=config.limits.max_body_bytes
    )
    serve(app, options)
