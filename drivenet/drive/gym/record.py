"""Record CarRacing episodes as ordinary drivenet recordings, labelled by the expert (DART, DAgger).

At step i of the episode of seed s, the camera shows the observation o_i (uint8 96x96 RGB, the HUD strip
at the bottom included) and the expert, reading the env's privileged state, proposes e_i = [steer, gas,
brake]. e_i is always the label written. The action applied to the env is

    a_i = acting_i with a_i[0] = clip(acting_i[0] + n_i, -1, 1),  n_i ~ N(0, noise^2),

where acting_i is e_i, or, given a `policy` (a model's `PolicySpec`), e_i with probability `beta` and
the policy's action for o_i otherwise. With noise > 0 and no policy this is DART (noise injected into the
expert's steering, so that the recording shows it recovering); with a policy and beta < 1, DAgger's data. The
random numbers come from numpy's default_rng(s) (every step draws u ~ U(0, 1) for beta and n_i), so
the same seed gives the same recording, whichever process records it: with `jobs` > 1 the episodes are
recorded in spawned processes (`rollout.run_tasks`), each building its own expert and policy from their
`PolicySpec`, and each episode starts both afresh (`reset`).

Steering sign: CarRacing's action[0] > 0 turns the car right, and so does drivenet's steering (negative
= left): labels are written as the env takes them.

Zoom: reset() steps the world once, so o_i is rendered at t = (i + 1) / 50 s, and CarRacing zooms its
camera in during the first second (zoom = 0.1 S max(1 - t, 0) + 2.7 S min(t, 1)): o_0 .. o_48 show the
track from further away than any later frame. They are driven (the car starts from standstill there)
but not written; the first frame written is step ZOOM_STEPS = 49.

Each episode is one recording folder OUT/seed_<seed:05d>/ (written in a hidden folder beside it, then
renamed into place) holding IMG/<step:04d>.png (lossless) and log.csv, one row per frame written:

    image,steering,throttle,brake,speed,episode,seed,step,applied_steering,applied_throttle,applied_brake,reward

image is IMG/<step:04d>.png; steering, throttle, brake the expert's label (throttle = gas); speed the
car's true speed |v| of the hull (Box2D units/s) when o_i was rendered; episode the episode's place in
this run (0, 1, ...), seed and step i; applied_* the action a_i; reward the env's reward for step i
(-0.1, plus 1000/N per new tile of N, -100 off the playfield). The plain-CSV reader reads the folder
(and OUT, a folder of such recordings) like any other recording, throttle, brake and speed included.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivenet.drive.gym.env import make_env
from drivenet.drive.gym.expert import Expert
from drivenet.drive.gym.rollout import EXPERT, Policy, PolicySpec, built, check_env, mean_sd, run_tasks
from drivenet.errors import DrivenetError
from drivenet.io import OUTPUT_MARKER, check_output_dir

THE_EXPERT = PolicySpec(EXPERT)  # the labels' default: the expert with its tuned settings
ZOOM_STEPS = 49  # observations 0..48 are rendered during CarRacing's zoom-in (see the module's docstring)
LOG_NAME = "log.csv"
LOG_COLUMNS = (
    "image",
    "steering",
    "throttle",
    "brake",
    "speed",
    "episode",
    "seed",
    "step",
    "applied_steering",
    "applied_throttle",
    "applied_brake",
    "reward",
)


@dataclass(frozen=True)
class RecordedEpisode:
    """One episode written: its folder, frames written, steps driven (the zoom steps included), the env's
    reward summed over those steps, and the steps in which the expert acted (all of them without a
    policy)."""

    seed: int
    folder: Path
    frames: int
    steps: int
    reward: float
    expert_steps: int


@dataclass(frozen=True)
class RecordSummary:
    """The episodes of one `record_episodes` call."""

    episodes: list[RecordedEpisode]

    @property
    def frames(self) -> int:
        return sum(e.frames for e in self.episodes)

    @property
    def reward_mean_sd(self) -> tuple[float, float]:
        """Mean and sample standard deviation of the episodes' rewards."""
        return mean_sd([e.reward for e in self.episodes])

    def text(self) -> str:
        """'2 episodes, 120 frames; reward per episode 5.3 ± 0.8 (over the steps driven)'."""
        mean, sd = self.reward_mean_sd
        return (
            f"{len(self.episodes)} episodes, {self.frames} frames; reward per episode "
            f"{mean:.1f} ± {sd:.1f} (over the steps driven)"
        )


def episode_folder(out: Path, seed: int) -> Path:
    """OUT/seed_<seed:05d>: where the episode of `seed` is written."""
    return out / f"seed_{seed:05d}"


@dataclass(frozen=True)
class RecordTask:
    """One episode to record (`record_episode`), in a form a worker process can rebuild."""

    out: Path
    seed: int
    episode: int
    expert: PolicySpec
    noise: float
    frames: int | None
    env_id: str
    env_kwargs: Mapping[str, Any]
    policy: PolicySpec | None
    beta: float

    def run(self, policies: dict[PolicySpec, Policy]) -> RecordedEpisode:
        expert = built(self.expert, policies)
        if not isinstance(expert, Expert):
            raise DrivenetError(f"{self.expert.source}: the labels come from the expert, not a model")
        policy = None if self.policy is None else built(self.policy, policies)
        return record_episode(
            self.out, self.seed, self.episode, expert, self.noise, self.frames, self.env_id, self.env_kwargs,
            policy, self.beta,
        )  # fmt: skip


def record_episodes(
    out: str | Path,
    seeds: Sequence[int],
    *,
    noise: float = 0.0,
    frames: int | None = None,
    force: bool = False,
    env_id: str = "CarRacing-v3",
    env_kwargs: Mapping[str, Any] | None = None,
    policy: PolicySpec | None = None,
    beta: float = 0.0,
    expert: PolicySpec = THE_EXPERT,
    jobs: int = 1,
    keep: bool = False,
) -> RecordSummary:
    """Record one episode per seed under `out` (see the module's docstring), each to its end or to
    `frames` frames written, in `jobs` processes. An existing episode folder is refused, before any
    driving, unless `force` and drivenet made it, or `keep`: then it is kept as it is and not driven
    again (a folder appears whole, so one there is complete). `policy` (built, reset per episode,
    `run(observation)` -> action; a model's ModelPilot) acts where the `expert` does not, `beta` the
    expert's share of the steps. The summary lists the episodes driven, `episode` numbering each by its
    place in `seeds`."""
    if not seeds:
        raise DrivenetError("no seeds to record: ask for at least one episode")
    if min(seeds) < 0:
        raise DrivenetError(f"seed {min(seeds)}: seeds must be 0 or more")
    if not (math.isfinite(noise) and noise >= 0.0):
        raise DrivenetError(f"--noise {noise}: must be a standard deviation, 0 or more")
    if frames is not None and frames < 1:
        raise DrivenetError(f"--frames {frames}: must be at least 1")
    if not 0.0 <= beta <= 1.0:
        raise DrivenetError(f"beta {beta}: must be a probability, 0 to 1")
    if jobs < 1:
        raise DrivenetError(f"--jobs {jobs}: must be at least 1")
    out = Path(out)
    todo = [(i, seed) for i, seed in enumerate(seeds) if not (keep and episode_folder(out, seed).is_dir())]
    for _, seed in todo:
        check_output_dir(episode_folder(out, seed), force)
    if not todo:
        return RecordSummary([])
    kwargs = dict(env_kwargs or {})
    check_env(env_id, kwargs)
    policies = {spec: spec.build() for spec in (expert, policy) if spec is not None}  # a bad one: one error
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DrivenetError(f"cannot make the folder {out}: {err.strerror or err}; choose another") from None
    tasks = [
        RecordTask(out, seed, i, expert, noise, frames, env_id, kwargs, policy, beta) for i, seed in todo
    ]
    return RecordSummary(list(run_tasks(tasks, jobs, policies)))


def record_episode(
    out: Path,
    seed: int,
    episode: int,
    expert: Expert,
    noise: float,
    frames: int | None,
    env_id: str,
    env_kwargs: Mapping[str, Any],
    policy: Policy | None,
    beta: float,
) -> RecordedEpisode:
    """Drive the episode of `seed` in a fresh env, writing it into a hidden folder in `out`, then rename
    it to `episode_folder(out, seed)`; a folder there already (the caller has checked it may go) is first
    moved into the hidden folder, which is deleted last."""
    folder = episode_folder(out, seed)
    env = make_env(env_id, **env_kwargs)
    try:
        if env.action_space.shape != (3,):  # continuous=false: discrete actions, which the expert cannot give
            raise DrivenetError(
                f"--env {env_id}: its actions are not [steer, gas, brake] (shape {env.action_space.shape}); "
                "recording needs continuous actions"
            )
        with tempfile.TemporaryDirectory(prefix=f".{folder.name}.", suffix=".tmp", dir=out) as name:
            new, aside = Path(name) / "new", Path(name) / "old"  # the hidden folder goes, and `old` in it
            new.mkdir()
            written, steps, total, expert_steps = write_episode(
                env, new, seed, episode, expert, noise, frames, policy, beta
            )
            (new / OUTPUT_MARKER).write_text("made by drivenet; `--force` may replace this folder\n")
            if folder.exists():
                os.rename(folder, aside)
            os.rename(new, folder)
    except OSError as err:
        raise DrivenetError(f"cannot write {folder}: {err.strerror or err}; choose another folder") from None
    finally:
        env.close()
    return RecordedEpisode(seed, folder, written, steps, total, expert_steps)


def write_episode(
    env: Any,
    tmp: Path,
    seed: int,
    episode: int,
    expert: Expert,
    noise: float,
    frames: int | None,
    policy: Policy | None,
    beta: float,
) -> tuple[int, int, float, int]:
    """Drive the episode of `seed` in `env`, writing IMG/ and log.csv into the folder `tmp`: (frames
    written, steps driven, reward over them, steps the expert acted)."""
    from PIL import Image

    (tmp / "IMG").mkdir()
    rng = np.random.default_rng(seed)
    observation, _ = env.reset(seed=seed)
    car_env = env.unwrapped
    hull = car_env.car.hull
    expert.reset()
    if policy is not None:
        policy.reset()
    written = steps = expert_steps = 0
    total = 0.0
    with open(tmp / LOG_NAME, "w", newline="", encoding="utf-8") as log:
        writer = csv.writer(log, lineterminator="\n")
        writer.writerow(LOG_COLUMNS)
        while frames is None or written < frames:
            label = expert.run(car_env)
            draw, shake = rng.random(), rng.normal(0.0, noise)  # both drawn at every step
            acting = label
            if policy is not None:  # it sees every frame, so that its frame history has no gaps
                proposed = np.asarray(policy.run(observation), dtype=np.float32)
                acting = proposed if draw >= beta else label
            expert_steps += acting is label
            applied = np.array(acting, dtype=np.float32)
            applied[0] = np.clip(acting[0] + shake, -1.0, 1.0)
            speed = math.hypot(hull.linearVelocity[0], hull.linearVelocity[1])
            seen = observation
            observation, reward, terminated, truncated, _ = env.step(applied)
            total += float(reward)
            if steps >= ZOOM_STEPS:
                image = f"IMG/{steps:04d}.png"
                Image.fromarray(seen).save(tmp / image)
                writer.writerow(
                    [image, *number_texts(label), f"{speed:.9g}", episode, seed, steps]
                    + [*number_texts(applied), f"{float(reward):.9g}"]
                )
                written += 1
            steps += 1
            if terminated or truncated:
                break
    return written, steps, total, expert_steps


def number_texts(values: np.ndarray) -> list[str]:
    """float32 values as text that reads back to the same float32 (9 significant digits)."""
    return [f"{float(v):.9g}" for v in values]
