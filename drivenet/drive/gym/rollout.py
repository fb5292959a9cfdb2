"""Closed loop in CarRacing: a policy drives one episode per seed, scored by the environment itself.

An episode starts with `env.reset(seed=seed)` in a fresh env, so a seed always gives the same track and,
with a deterministic policy (the expert; a model's float32 inference), the same result, whichever
process drives it and in whatever order. Per episode:

- reward: the sum of the env's rewards, -0.1 a frame plus 1000/N for each of the track's N tiles
  first touched, and -100 for leaving the playfield (which ends the episode);
- steps: frames driven (actions taken);
- tiles: tiles visited (`tile_visited_count`), and as a share of the track's N tiles;
- off-track frames: frames after which no wheel touches a road tile (every wheel's `tiles` empty, the
  case in which car_dynamics gives all four wheels grass friction);
- laps: 1 when the env ended the episode for a finished lap (info["lap_finished"]: every tile visited, or
  the start tile reached again with more than `lap_complete_percent` of them visited), else 0. The env
  ends the episode on the first lap, so one episode completes at most one lap.

Episodes run in `jobs` processes (spawned; each builds its own env per episode and its own policies
from their `PolicySpec`). `run_tasks` is that pool for any task with a `run(policies)` method: driving
(`Task`) and recording (`record.RecordTask`).
"""

from __future__ import annotations

import multiprocessing
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from drivenet.drive.gym.env import DEFAULT_GAS, OBSERVATION_SIZE, make_env
from drivenet.drive.gym.expert import Expert
from drivenet.drive.gym.pilot import ModelPilot
from drivenet.errors import DrivenetError

EXPERT = "expert"
FPS = 50  # CarRacing's frames per second
GIF_EVERY = 4  # a GIF keeps every 4th frame: 12.5 frames per second of driving
GIF_SCALE = 3  # and shows it 3x upscaled, 288x288


class Policy(Protocol):
    """What drives: `run` maps what it reads (the observation, or the env for the privileged expert) to
    the action [steer, gas, brake]; `reset` starts a new episode."""

    def reset(self) -> None: ...

    def run(self, source: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class PolicySpec:
    """A policy in a form a worker process can rebuild: `source` is "expert" or a checkpoint path; `gas`
    is a model pilot's constant gas (see ModelPilot); `expert` overrides Expert fields, (name, value)
    pairs (tuning, scripts/gym_expert.py)."""

    source: str
    gas: float = DEFAULT_GAS
    expert: tuple[tuple[str, float], ...] = ()

    def build(self) -> Policy:
        """The expert, or a ModelPilot of the checkpoint (DrivenetError for a missing or unusable one)."""
        if self.source == EXPERT:
            return Expert(**dict(self.expert))
        from drivenet.model.checkpoint import load_model

        return ModelPilot(load_model(self.source), self.gas)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class Episode:
    """One seed driven to its end (see the module's docstring for each figure); `end` says why it ended:
    "lap", "playfield" (the car left it) or "time limit" (the env's max_episode_steps)."""

    seed: int
    reward: float
    steps: int
    tiles: int
    track_tiles: int
    off_track: int
    laps: int
    end: str

    @property
    def tile_share(self) -> float:
        """Tiles visited / the track's tiles."""
        return self.tiles / self.track_tiles

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tile_share": self.tile_share}


@dataclass(frozen=True)
class Summary:
    """Episodes together: reward mean, sample standard deviation (0 for one episode), min and max; the
    mean tile share; off-track frames in all and as a share of all frames; laps in all."""

    episodes: int
    mean: float
    sd: float
    min: float
    max: float
    tile_share: float
    off_track: int
    off_track_share: float
    laps: int

    @classmethod
    def of(cls, episodes: Sequence[Episode]) -> Summary:
        rewards = [e.reward for e in episodes]
        off_track = sum(e.off_track for e in episodes)
        mean, sd = mean_sd(rewards)
        return cls(
            episodes=len(episodes),
            mean=mean,
            sd=sd,
            min=min(rewards),
            max=max(rewards),
            tile_share=statistics.fmean(e.tile_share for e in episodes),
            off_track=off_track,
            off_track_share=off_track / max(sum(e.steps for e in episodes), 1),
            laps=sum(e.laps for e in episodes),
        )


@dataclass(frozen=True)
class DriveReport:
    """A policy's episodes and, when compared, the expert's on the same seeds. `percent_of_expert` is
    100 · mean reward / the expert's mean reward (None without the expert, or when that is not above 0)."""

    episodes: list[Episode]
    expert: list[Episode] | None = None

    @property
    def summary(self) -> Summary:
        return Summary.of(self.episodes)

    @property
    def expert_summary(self) -> Summary | None:
        return Summary.of(self.expert) if self.expert else None

    @property
    def percent_of_expert(self) -> float | None:
        if self.expert_summary is None or self.expert_summary.mean <= 0:
            return None
        return 100.0 * self.summary.mean / self.expert_summary.mean

    def to_dict(self) -> dict[str, Any]:
        return {
            "episodes": [e.to_dict() for e in self.episodes],
            "summary": asdict(self.summary),
            "expert": None if self.expert_summary is None else asdict(self.expert_summary),
            "percent_of_expert": self.percent_of_expert,
        }


R = TypeVar("R", covariant=True)


class PoolTask(Protocol[R]):
    """A unit of work for `run_tasks`: picklable, it names its policies by `PolicySpec`, and `run` does
    it with the policies built so far in its process (`built` adds those it lacks)."""

    def run(self, policies: dict[PolicySpec, Policy]) -> R: ...


def built(spec: PolicySpec, policies: dict[PolicySpec, Policy]) -> Policy:
    """`policies[spec]`, built there on first use."""
    if spec not in policies:
        policies[spec] = spec.build()
    return policies[spec]


@dataclass(frozen=True)
class Task:
    """One episode to drive: policy, seed, env, and a GIF to write of it (or None)."""

    policy: PolicySpec
    seed: int
    env_id: str
    env_kwargs: Mapping[str, Any]
    gif: Path | None = None
    saliency: str | None = None

    def run(self, policies: dict[PolicySpec, Policy]) -> Episode:
        """Drive the episode (`drive_episode`)."""
        policy = built(self.policy, policies)
        return drive_episode(policy, self.seed, self.env_id, self.env_kwargs, self.gif, self.saliency)


def drive_episode(
    policy: Policy,
    seed: int,
    env_id: str = "CarRacing-v3",
    env_kwargs: Mapping[str, Any] | None = None,
    gif: Path | None = None,
    saliency: str | None = None,
) -> Episode:
    """Drive `seed` to the end of its episode in a fresh env; with `gif`, write every GIF_EVERY-th frame
    there (`save_gif`), and with `saliency` (a model pilot's) the model's input and that method's map
    beside each (`drivenet.drive.film.SaliencyFilm`)."""
    env = make_env(env_id, **(env_kwargs or {}))
    try:
        observation, _ = env.reset(seed=seed)
        car_env = env.unwrapped
        wheels = car_env.car.wheels
        run = policy.run
        privileged = isinstance(policy, Expert)
        frames: list[Any] = []
        film = gif_film(frames, policy, saliency, lambda: steps) if gif is not None else None
        steps = 0
        if film is not None:
            film(None, observation)
        policy.reset()
        reward, steps, off_track = 0.0, 0, 0
        while True:
            action = run(car_env if privileged else observation)
            observation, r, terminated, truncated, info = env.step(action)
            reward += float(r)
            steps += 1
            off_track += not any(wheel.tiles for wheel in wheels)
            if film is not None:
                film(None, observation)
            if terminated or truncated:
                break
        lap = bool(info.get("lap_finished", False))
        episode = Episode(
            seed=seed,
            reward=reward,
            steps=steps,
            tiles=int(car_env.tile_visited_count),
            track_tiles=len(car_env.track),
            off_track=off_track,
            laps=int(lap),
            end="lap" if lap else "playfield" if terminated else "time limit",
        )
    finally:
        env.close()
    if gif is not None:
        save_gif(frames, gif)
    return episode


def gif_film(
    frames: list[Any], policy: Policy, saliency: str | None, steps: Callable[[], int]
) -> Callable[[object, np.ndarray], None]:
    """The watch of an episode's GIF, called with each observation: every GIF_EVERY-th step's frame
    GIF_SCALE x upscaled (nearest pixel) into `frames`; with `saliency`, wrapped in a `SaliencyFilm` of
    the model pilot's model (which sees every observation)."""
    from PIL import Image

    size = (OBSERVATION_SIZE * GIF_SCALE, OBSERVATION_SIZE * GIF_SCALE)

    def keep(_: object, observation: np.ndarray) -> None:
        if steps() % GIF_EVERY == 0:
            frames.append(Image.fromarray(observation).resize(size, Image.Resampling.NEAREST))

    if saliency is None or not isinstance(policy, ModelPilot):
        return keep
    from drivenet.drive.film import SaliencyFilm

    model = policy.model
    return SaliencyFilm(
        keep, frames, model, saliency, lambda observation: model.images_from_frames([observation])
    )


def save_gif(frames: Sequence[Any], path: Path) -> Path:
    """An endless animated GIF of the pictures of `gif_film`, each shown GIF_EVERY / FPS seconds, the
    time it stands for."""
    from drivenet.viz import save_gif as write_gif

    return write_gif(frames, path, 1000 * GIF_EVERY // FPS)


def check_env(env_id: str, env_kwargs: Mapping[str, Any]) -> None:
    """Make the env once, so that a wrong id or keyword is one DrivenetError before any episode, and
    refuse envs whose observations are not CarRacing's 96x96 RGB frames."""
    try:
        env = make_env(env_id, **env_kwargs)
    except DrivenetError:  # no gym extra
        raise
    except (TypeError, ValueError) as err:  # a keyword the env does not take, or a bad value
        raise DrivenetError(f"--env {env_id} with {dict(env_kwargs)}: {err}") from None
    except Exception as err:
        import gymnasium  # importable: make_env got past its import

        if not isinstance(err, gymnasium.error.Error):  # gymnasium's own (an unknown id...) are the user's
            raise
        raise DrivenetError(f"--env {env_id}: {err}") from None
    shape = env.observation_space.shape
    env.close()
    if shape != (OBSERVATION_SIZE, OBSERVATION_SIZE, 3):
        raise DrivenetError(f"--env {env_id}: observations of shape {shape}, not CarRacing's (96, 96, 3)")


def drive(
    source: str,
    seeds: Sequence[int],
    *,
    jobs: int = 1,
    env_id: str = "CarRacing-v3",
    env_kwargs: Mapping[str, Any] | None = None,
    gas: float = DEFAULT_GAS,
    gif: Path | None = None,
    compare: bool = True,
    saliency: str | None = None,
) -> DriveReport:
    """Let `source` ("expert" or a checkpoint path) drive one episode per seed, over `jobs` processes;
    with `compare`, the expert drives the same seeds too (unless `source` is the expert: no comparison).
    `gif` films the first seed (with a model's `saliency` maps beside each frame)."""
    if not seeds:
        raise DrivenetError("no seeds to drive: ask for at least one episode")
    if jobs < 1:
        raise DrivenetError(f"--jobs {jobs}: must be at least 1")
    spec = PolicySpec(source, gas)
    policies = {spec: spec.build()}  # here first: a bad checkpoint is one error, not one per worker
    kwargs = dict(env_kwargs or {})
    check_env(env_id, kwargs)
    tasks = [Task(spec, seeds[0], env_id, kwargs, gif, saliency)] if gif is not None else []
    tasks += [Task(spec, seed, env_id, kwargs) for seed in seeds[len(tasks) :]]
    rerun = compare and source != EXPERT
    if rerun:
        tasks += [Task(PolicySpec(EXPERT), seed, env_id, kwargs) for seed in seeds]
    episodes = list(run_tasks(tasks, jobs, policies))
    ours = episodes[: len(seeds)]
    return DriveReport(ours, episodes[len(seeds) :] if rerun else None)


def run_tasks(
    tasks: Sequence[PoolTask[Any]], jobs: int, policies: dict[PolicySpec, Policy] | None = None
) -> Iterator[Any]:
    """The tasks' results in order, each as soon as it and those before it are done: run here when jobs
    is 1 (with `policies`, built ones to reuse), else in min(jobs, len(tasks)) spawned processes, each
    building its own policies."""
    if jobs == 1 or len(tasks) == 1:
        policies = {} if policies is None else policies
        yield from (task.run(policies) for task in tasks)
        return
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(tasks))) as pool:
        yield from pool.imap(_worker_task, tasks)


_WORKER_POLICIES: dict[PolicySpec, Policy] = {}  # a worker process's policies, built on first use


def _worker_task(task: PoolTask[Any]) -> Any:
    return task.run(_WORKER_POLICIES)
