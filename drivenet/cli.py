"""The `drivenet` command line: each command lives in a module of `drivenet.commands`.

`drivenet --help` imports every command module, so a command module imports only typer, rich and light
drivenet modules at its top; numpy, pandas, matplotlib, PIL and anything that pulls them in are imported
inside the command function that uses them (tests/test_cli_startup.py checks this).
"""

from __future__ import annotations

import typer

from drivenet.commands import (
    backprop,
    demo,
    drive,
    ensemble,
    evaluate,
    explain,
    export,
    gradcheck,
    gym,
    inspect,
    plot,
    predict,
    preprocess,
    replay,
    serve,
    sweep,
    synth,
    train,
)

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


for module in (  # in this order in `drivenet --help`
    backprop,
    gradcheck,
    preprocess,
    inspect,
    train,
    evaluate,
    predict,
    export,
    plot,
    explain,
    synth,
    drive,
    demo,
    replay,
    serve,
    gym,
    sweep,
    ensemble,
):
    module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
