"""Throttle that holds a speed: a PI controller whose target eases off in sharp turns."""

from __future__ import annotations

from dataclasses import dataclass

MAX_STEP_S = 0.5  # longest time step integrated at once (the first frame, or after a pause)


@dataclass
class SpeedController:
    """throttle = clip(kp * e + ki * I, -1, 1), with e = target - speed (mph) and I = sum of e * dt.

    target = set_mph * (1 - ease * |steering|): at full lock the car aims for (1 - ease) of the set
    speed. Negative throttle brakes. I stops growing while the output is pinned at a limit by an error
    of the same sign (anti-windup), so the car does not overshoot after a long climb or a standing start.
    """

    set_mph: float
    kp: float = 0.1
    ki: float = 0.02
    ease: float = 0.5
    integral: float = 0.0

    def target(self, steering: float) -> float:
        """The speed aimed for while steering `steering` (in [-1, 1])."""
        return self.set_mph * (1.0 - self.ease * min(abs(steering), 1.0))

    def throttle(self, speed: float, steering: float, dt: float) -> float:
        """The throttle for a car at `speed` mph steering `steering`, `dt` seconds after the last call."""
        error = self.target(steering) - speed
        integral = self.integral + error * min(max(dt, 0.0), MAX_STEP_S)
        raw = self.kp * error + self.ki * integral
        if abs(raw) <= 1.0 or (raw > 0) != (error > 0):
            self.integral = integral
        return min(max(self.kp * error + self.ki * self.integral, -1.0), 1.0)

    def reset(self) -> None:
        """Forget the accumulated error (a new connection: the car starts again)."""
        self.integral = 0.0
