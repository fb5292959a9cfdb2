"""The `drivenet` command line: each command lives in a module of `drivenet.commands`."""

from __future__ import annotations

import typer

from drivenet.commands import engine, learn, network, preprocess, roads

app = typer.Typer(
    name="drivenet",
    help="Learn, see and use backpropagation on a self-driving task.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _drivenet() -> None:
    """Learn, see and use backpropagation on a self-driving task."""


for module in (engine, network, preprocess, learn, roads):
    module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
