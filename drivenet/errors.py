"""One kind of user-facing error, and the decorator that turns it into a one-line CLI message."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])


class DrivenetError(Exception):
    """A problem the user can fix: the message names the file or row and what to do."""


def printable(text: str) -> str:
    """`text` with control characters (a newline, a terminal escape sequence) written as Python escapes,
    so that a file name cannot split a one-line message or drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def cli_errors(fn: F) -> F:
    """Report a DrivenetError as `error: ...` on stderr and exit 1, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DrivenetError as err:
            typer.secho(f"error: {printable(str(err))}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
