"""CLI commands, one module per area: each exposes `register(app)`."""


def plural(n: int, noun: str) -> str:
    """'takeover' for 1 (or -1), 'takeovers' for any other `n`."""
    return noun if abs(n) == 1 else f"{noun}s"


def counted(n: int, noun: str) -> str:
    """'1 takeover', '3 takeovers': `n` and the noun, plural unless n is 1 or -1."""
    return f"{n} {plural(n, noun)}"
