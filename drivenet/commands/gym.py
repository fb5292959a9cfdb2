"""Command group `gym`: drive Gymnasium's CarRacing (the `gym` extra). One module per subcommand
(`gym_record`, `gym_drive`...), each exposing `register(group)`; the options they share are here."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from drivenet.errors import DrivenetError

EnvOpt = Annotated[str, typer.Option("--env", help="Gymnasium environment id.")]
EnvArgOpt = Annotated[
    list[str],
    typer.Option("--env-arg", help="key=value handed to gymnasium.make (repeatable); values read as TOML."),
]


def env_kwargs(pairs: list[str]) -> dict[str, Any]:
    """`--env-arg key=value` pairs as keyword arguments: the value read as a TOML value when it is one
    (`lap_complete_percent=0.9`, `continuous=true`), else kept as a string."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise DrivenetError(f"--env-arg {pair!r}: expected key=value, like lap_complete_percent=0.9")
        try:
            kwargs[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            kwargs[key.strip()] = text
    return kwargs


def register(app: typer.Typer) -> None:
    """Add the `gym` group and its subcommands to the CLI."""
    group = typer.Typer(
        name="gym",
        help="Drive Gymnasium's CarRacing: an expert, recordings, closed loop (needs the gym extra).",
        no_args_is_help=True,
    )
    from drivenet.commands import gym_dagger, gym_drive, gym_record  # here, not at the top: they import this

    gym_drive.register(group)
    gym_record.register(group)
    gym_dagger.register(group)
    app.add_typer(group)
