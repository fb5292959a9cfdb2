"""Counts of a serving session, its one-line live status and its summary."""

from __future__ import annotations

import sys
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TextIO

from drivenet.data.images import warnings_line

RATE_WINDOW = 30  # frames per second are measured over the last this many frames


@dataclass
class ServeStats:
    """Frames served, their timing (seconds, from `time.monotonic()`), the last command and the problems."""

    started: float
    frames: int = 0
    connections: int = 0
    manual: int = 0
    latency_sum: float = 0.0
    latency_max: float = 0.0
    last_latency: float = 0.0
    last_steering: float = 0.0
    last_throttle: float = 0.0
    last_speed: float | None = None
    problems: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # errors inside drivenet, answered by coasting
    refused: Counter[str] = field(default_factory=Counter)  # connections and messages the server refused
    warned: Counter[str] = field(default_factory=Counter)  # the image decoder's warnings, by message
    not_recorded: int = 0  # frames of a connection other than the recording one
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))

    def served(
        self, now: float, latency: float, steering: float, throttle: float, speed: float | None
    ) -> None:
        """Count one answered telemetry message."""
        self.frames += 1
        self.recent.append(now)
        self.latency_sum += latency
        self.latency_max = max(self.latency_max, latency)
        self.last_latency = latency
        self.last_steering, self.last_throttle, self.last_speed = steering, throttle, speed

    @property
    def fps(self) -> float:
        """Frames per second over the last RATE_WINDOW frames (0 before two frames)."""
        if len(self.recent) < 2 or self.recent[-1] <= self.recent[0]:
            return 0.0
        return (len(self.recent) - 1) / (self.recent[-1] - self.recent[0])

    def line(self) -> str:
        """The live status: frames, rate, latency, last steering, throttle and speed, problems."""
        speed = "-" if self.last_speed is None else f"{self.last_speed:.1f} mph"
        text = (
            f"{self.frames} frames  {self.fps:.1f} fps  {self.last_latency * 1000:.1f} ms/frame  "
            f"steering {self.last_steering:+.3f}  throttle {self.last_throttle:+.2f}  speed {speed}"
        )
        bad = sum(self.problems.values())
        return text + (f"  bad telemetry {bad}" if bad else "")

    def summary(self, now: float) -> str:
        """Several lines for the end of a session."""
        seconds = max(now - self.started, 0.0)
        mean = self.latency_sum / self.frames * 1000 if self.frames else 0.0
        lines = [
            f"served {self.frames} frames in {seconds:.1f} s over {self.connections} connection(s); "
            f"latency mean {mean:.1f} ms, max {self.latency_max * 1000:.1f} ms",
        ]
        if self.manual:
            lines.append(f"{self.manual} telemetry messages while driven by hand")
        for title, counts in (
            ("bad telemetry, each answered", self.problems),
            ("failed inside drivenet, each answered by coasting", self.failures),
            ("refused", self.refused),
        ):
            if counts:
                lines.append(f"{title}: " + ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items())))
        warned = warnings_line(self.warned)
        lines += [warned] if warned else []
        if self.not_recorded:
            lines.append(f"{self.not_recorded} frames of a second connection steered, not recorded")
        return "\n".join(lines)


class StatusLine:
    """One line rewritten in place on a terminal (at most every `interval_s`); on anything else, a line
    every `log_interval_s`. Messages are printed above it."""

    def __init__(self, stream: TextIO | None = None, interval_s: float = 0.25, log_interval_s: float = 10.0):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.interval = interval_s if self.live else log_interval_s
        self.shown_at: float | None = None
        self.width = 0

    def show(self, text: str, now: float) -> None:
        """Show `text` unless the line was refreshed less than the interval ago."""
        if self.shown_at is not None and now - self.shown_at < self.interval:
            return
        self.shown_at = now
        if self.live:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """Print a line of its own (the status line is redrawn at the next `show`)."""
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        self.shown_at = None

    def clear(self) -> None:
        """Blank the live line."""
        if self.live and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
