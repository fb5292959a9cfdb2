"""CLI commands, one module per area: each exposes `register(app)`."""


def counted(n: int, noun: str) -> str:
    """'1 takeover', '3 takeovers': `n` and the noun, plural unless n is 1 or -1."""
    return f"{n} {noun}{'' if abs(n) == 1 else 's'}"
