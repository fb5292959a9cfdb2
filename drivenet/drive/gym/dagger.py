"""DAgger in CarRacing: behavioural cloning on the expert's episodes, then rounds in which the model
drives, the expert labels every frame it sees, and the model is trained again on all the data.

The loop (Ross, Gordon & Bagnell 2011, DAgger; round 0 with DART's noise, Laskey et al. 2017), with the
keys of `[dagger]`:

    D_0  = the expert's episodes on bc_episodes seeds, N(0, noise^2) added to the steering it applies
    pi_0 = train(D_0)                                         (behavioural cloning)
    for r = 1 .. rounds:
        beta_r = beta * beta_decay^(r - 1)
        D_r  = episodes on `episodes` new seeds: at each step the expert acts with probability beta_r,
               pi_{r-1} (its best.npz, a ModelPilot) otherwise; every frame labelled with the expert's
               action, no noise
        pi_r = train(D_0 + ... + D_r)                         (from scratch, seed train.seed)
    score: each pi_r drives the choosing seeds; the round with the best mean reward is chosen

Every round is trained from scratch with the same seed, so a round's model depends only on its data.
Seeds (`SeedPlan`): round 0 records train_seed + i, round r train_seed + 1000 r + i; the choosing seeds
choose_seed + i score the rounds; the test seeds test_seed + i (`gym learn`'s report) are read by no
training and no choice. The three sets must not overlap.

The run folder DIR (`DaggerFolder`):

    config.toml                    the resolved config          env.json    the env id and --env-arg keys
    choose_expert.json             the expert on the choosing seeds, per episode
    data/round_RR/seed_NNNNN/      round r's episodes (`gym record`'s layout: IMG/*.png, log.csv)
    data/round_RR.npz              their cache, preprocessed once with [data]
    rounds/round_RR/               a `drivenet train` run on data/round_00.npz .. round_RR.npz
    rounds/round_RR/choose.json    its best.npz on the choosing seeds, per episode; closes the round
    report.json                    (`gym learn`) the chosen round and the test seeds, model and expert

Resume: every file appears whole (atomic writes; an episode folder is renamed into place when done),
so running the same command again skips each step whose output is there and finishes an interrupted
run with the results an uninterrupted one gives. A round without choose.json continues its training
from last.npz with `prepare_training(resume=True)` (the exact batches it would have seen; nothing to do
when it had finished), or starts it over when there is no last.npz yet (stopped in its first epoch).
A resume with another config or env is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drivenet.config import DaggerConfig, RunConfig, load_config, to_toml
from drivenet.data.cache import SteeringCache, load_or_build
from drivenet.data.transform import Preprocess
from drivenet.drive.gym.pilot import check_observation_fits
from drivenet.drive.gym.record import episode_folder, record_episodes
from drivenet.drive.gym.rollout import EXPERT, DriveReport, Episode, PolicySpec, Summary, check_env, drive
from drivenet.errors import DrivenetError
from drivenet.io import prepare_output_dir, write_json, write_text
from drivenet.training.console import training_console
from drivenet.training.trainer import prepare_training

CARRACING_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "carracing.toml"
ROUND_SEEDS = 1000  # round r's training seeds start at train_seed + ROUND_SEEDS * r


def dagger_config(path: Path | None, overrides: Sequence[str]) -> RunConfig:
    """The config file `path`, or without one drivenet's own configs/carracing.toml, which a clone of the
    repository has (`pip install -e .`) and a plain install has not; then the `--set` overrides."""
    if path is None:
        if not CARRACING_CONFIG.is_file():
            raise DrivenetError(
                f"no --config given, and drivenet's {CARRACING_CONFIG} is not there (installed without "
                "the repository); pass --config with a CarRacing config, like its configs/carracing.toml"
            )
        path = CARRACING_CONFIG
    return load_config(path, overrides)


def span(seeds: range) -> str:
    """'1000-1009' (or '1000' for one seed)."""
    return f"{seeds.start}" if len(seeds) == 1 else f"{seeds.start}-{seeds.stop - 1}"


@dataclass(frozen=True)
class SeedPlan:
    """Which seeds each step drives (see the module's docstring)."""

    dagger: DaggerConfig

    def training(self, r: int) -> range:
        """Round r's recorded seeds: train_seed + ROUND_SEEDS r + i."""
        first = self.dagger.train_seed + ROUND_SEEDS * r
        return range(first, first + (self.dagger.bc_episodes if r == 0 else self.dagger.episodes))

    @property
    def choosing(self) -> range:
        return range(self.dagger.choose_seed, self.dagger.choose_seed + self.dagger.choose_episodes)

    @property
    def test(self) -> range:
        return range(self.dagger.test_seed, self.dagger.test_seed + self.dagger.test_episodes)

    def check(self) -> None:
        """Refuse overlapping sets: a seed that trains, chooses or tests does only that."""
        named = [(f"round {r}'s training", self.training(r)) for r in range(self.dagger.rounds + 1)]
        named += [("choosing", self.choosing), ("test", self.test)]
        for i, (name, seeds) in enumerate(named):
            for other, others in named[i + 1 :]:
                if seeds.start < others.stop and others.start < seeds.stop:
                    raise DrivenetError(
                        f"[dagger] {name} seeds {span(seeds)} overlap the {other} seeds {span(others)}; "
                        "move dagger.train_seed, dagger.choose_seed or dagger.test_seed"
                    )


def round_beta(dagger: DaggerConfig, r: int) -> float:
    """The expert's share of the steps in round r >= 1: beta * beta_decay^(r - 1)."""
    return dagger.beta * dagger.beta_decay ** (r - 1)


@dataclass(frozen=True)
class DaggerFolder:
    """The files of one DAgger run in the folder `out` (see the module's docstring)."""

    out: Path

    @property
    def config(self) -> Path:
        return self.out / "config.toml"

    @property
    def env(self) -> Path:
        return self.out / "env.json"

    @property
    def choose_expert(self) -> Path:
        return self.out / "choose_expert.json"

    @property
    def report(self) -> Path:
        return self.out / "report.json"

    def recordings(self, r: int) -> Path:
        return self.out / "data" / f"round_{r:02d}"

    def cache(self, r: int) -> Path:
        return self.out / "data" / f"round_{r:02d}.npz"

    def run(self, r: int) -> Path:
        """Round r's training run folder."""
        return self.out / "rounds" / f"round_{r:02d}"

    def choose(self, r: int) -> Path:
        return self.run(r) / "choose.json"

    @classmethod
    def open(cls, out: str | Path, config: RunConfig, env: Mapping[str, Any], force: bool) -> DaggerFolder:
        """A new run folder (an old one deleted first with `force`), or the one begun with this `config`
        and `env` ({"env": id, "env_kwargs": {...}}) to resume. config.toml is written last: a folder
        without it has no run begun."""
        folder = cls(Path(out))
        if force or not folder.config.is_file():
            prepare_output_dir(folder.out, force)
            write_json(folder.env, env)
            write_text(folder.config, to_toml(config))
            return folder
        folder.check_same(config, env)
        return folder

    def check_same(self, config: RunConfig, env: Mapping[str, Any]) -> None:
        """Refuse to resume with another config or env than the run began with, naming the first
        difference."""
        if not self.env.is_file():
            raise DrivenetError(f"{self.out} holds no env.json: not a gym dagger run; choose another --out")
        remedy = f"resume with its config ({self.config}) and env, or pass --force to start over"
        saved_env = json.loads(self.env.read_text(encoding="utf-8"))
        for key in ("env", "env_kwargs"):
            if saved_env.get(key) != env[key]:
                raise DrivenetError(
                    f"{self.out} was begun with {key} {json.dumps(saved_env.get(key))}, not "
                    f"{json.dumps(env[key])}; {remedy}"
                )
        saved, wanted = load_config(self.config).to_dict(), config.to_dict()
        for section, values in saved.items():
            for key, value in values.items():
                if wanted[section][key] != value:
                    raise DrivenetError(
                        f"{self.out} was begun with {section}.{key} = {json.dumps(value)}, not "
                        f"{json.dumps(wanted[section][key])}; {remedy}"
                    )


@dataclass(frozen=True)
class RoundScore:
    """A round's model on the choosing seeds (its choose.json): the expert's share of the steps it was
    recorded with (None: round 0, the expert with noise), frames recorded that round and in the
    aggregate it trained on, and its episodes."""

    round: int
    beta: float | None
    round_frames: int
    frames: int
    episodes: tuple[Episode, ...]

    @property
    def summary(self) -> Summary:
        return Summary.of(self.episodes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "beta": self.beta,
            "round_frames": self.round_frames,
            "frames": self.frames,
            "episodes": [e.to_dict() for e in self.episodes],
            "summary": asdict(self.summary),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RoundScore:
        return cls(
            values["round"], values["beta"], values["round_frames"], values["frames"], read_episodes(values)
        )


def read_episodes(values: Mapping[str, Any]) -> tuple[Episode, ...]:
    """The episodes of a JSON report (`Episode.to_dict` rows; tile_share is derived)."""
    return tuple(Episode(**{k: v for k, v in e.items() if k != "tile_share"}) for e in values["episodes"])


def read_json(path: Path) -> Any:
    """A JSON file this module wrote; a one-line error when it was damaged since."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DrivenetError(f"{path}: unreadable ({err}); delete it and run the command again") from None


def chosen(scores: Sequence[RoundScore]) -> RoundScore:
    """The round with the best mean reward on the choosing seeds (the earliest of equals)."""
    return max(scores, key=lambda s: (s.summary.mean, -s.round))


class Dagger:
    """The loop of the module's docstring over one run folder; `say` is told what each step does,
    `show` puts a progress bar on the training."""

    def __init__(
        self,
        folder: DaggerFolder,
        config: RunConfig,
        env: Mapping[str, Any],
        jobs: int,
        say: Callable[[str], None],
        show: bool,
    ) -> None:
        self.folder, self.config, self.jobs, self.say, self.show = folder, config, jobs, say, show
        self.env_id: str = env["env"]
        self.env_kwargs: dict[str, Any] = dict(env["env_kwargs"])
        self.seeds = SeedPlan(config.dagger)

    def run(self) -> tuple[list[RoundScore], tuple[Episode, ...]]:
        """Every round, each skipped where done: (the rounds' scores, the expert on the choosing seeds)."""
        expert = self.expert_choosing()
        return [self.round(r) for r in range(self.config.dagger.rounds + 1)], expert

    def expert_choosing(self) -> tuple[Episode, ...]:
        """The expert on the choosing seeds (choose_expert.json), driven once."""
        path = self.folder.choose_expert
        if not path.is_file():
            self.say(f"the expert drives the choosing seeds {span(self.seeds.choosing)}")
            report = self.drive(EXPERT, self.seeds.choosing)
            write_json(path, {"seeds": span(self.seeds.choosing), **report.to_dict()})
        return read_episodes(read_json(path))

    def round(self, r: int) -> RoundScore:
        """Round r: record, cache, train, score (each step skipped where done)."""
        if self.folder.choose(r).is_file():
            return RoundScore.from_dict(read_json(self.folder.choose(r)))
        beta = None if r == 0 else round_beta(self.config.dagger, r)
        self.record(r, beta)
        caches = [self.cache(i) for i in range(r + 1)]
        self.train(r, caches)
        self.say(f"round {r}: its model drives the choosing seeds {span(self.seeds.choosing)}")
        report = self.drive(str(self.folder.run(r) / "best.npz"), self.seeds.choosing)
        frames = [len(SteeringCache.load(path)) for path in caches]  # memory-mapped: images unread
        score = RoundScore(r, beta, frames[-1], sum(frames), tuple(report.episodes))
        write_json(self.folder.choose(r), {"seeds": span(self.seeds.choosing), **score.to_dict()})
        return score

    def record(self, r: int, beta: float | None) -> None:
        """Round r's episodes: the expert with DART noise (round 0), or the model of round r - 1 with the
        expert acting at rate `beta`; episodes already recorded are kept."""
        out, seeds, dagger = self.folder.recordings(r), self.seeds.training(r), self.config.dagger
        if self.folder.cache(r).is_file() or all(episode_folder(out, s).is_dir() for s in seeds):
            return
        if beta is None:
            self.say(f"round 0: the expert drives seeds {span(seeds)} (steering noise {dagger.noise:g})")
            policy = None
        else:
            self.say(f"round {r}: round {r - 1}'s model drives seeds {span(seeds)}, the expert {beta:.0%}")
            policy = PolicySpec(str(self.folder.run(r - 1) / "best.npz"))
        summary = record_episodes(
            out,
            seeds,
            noise=dagger.noise if beta is None else 0.0,
            env_id=self.env_id,
            env_kwargs=self.env_kwargs,
            policy=policy,
            beta=1.0 if beta is None else beta,
            jobs=self.jobs,
            keep=True,
        )
        self.say(f"round {r}: {len(summary.episodes)} episode(s) recorded, {summary.frames:,} frames")

    def cache(self, r: int) -> Path:
        """Round r's recordings preprocessed once with [data] into data/round_RR.npz."""
        path = self.folder.cache(r)
        if not path.is_file():
            folders = [episode_folder(self.folder.recordings(r), s) for s in self.seeds.training(r)]
            load_or_build(folders, self.config.data, progress=self.show).save(path)
        return path

    def train(self, r: int, caches: list[Path]) -> None:
        """Train round r's model on `caches` (all rounds so far), continuing a run that was stopped
        (see the module's docstring); a Ctrl-C saves it and is raised again as KeyboardInterrupt."""
        out = self.folder.run(r)
        resume = (out / "last.npz").is_file()
        rounds = "round 0's data" if r == 0 else f"the data of rounds 0-{r}"
        self.say(f"round {r}: {'training continues' if resume else 'training'} on {rounds}")
        training = prepare_training(caches, self.config, out, force=not resume, resume=resume)
        with training_console(self.config.train.epochs, self.show) as (display, stop_requested):
            result = training.train(display, stop_requested)
        if result.status == "interrupted":
            raise KeyboardInterrupt

    def drive(self, source: str, seeds: range) -> DriveReport:
        """`source` (the expert or a checkpoint) on `seeds`, without comparing."""
        return drive(
            source, seeds, jobs=self.jobs, env_id=self.env_id, env_kwargs=self.env_kwargs, compare=False
        )


def run_dagger(
    out: str | Path,
    config: RunConfig,
    env: Mapping[str, Any],
    *,
    jobs: int = 1,
    force: bool = False,
    say: Callable[[str], None] = print,
    show: bool = False,
) -> tuple[DaggerFolder, list[RoundScore], tuple[Episode, ...]]:
    """Every round of DAgger in the run folder `out` (begun, or resumed): the folder, the rounds' scores
    and the expert's episodes on the choosing seeds."""
    if jobs < 1:
        raise DrivenetError(f"--jobs {jobs}: must be at least 1")
    SeedPlan(config.dagger).check()
    check_observation_fits(Preprocess.from_config(config.data))  # before round 0 records and trains
    check_env(env["env"], env["env_kwargs"])  # no gym extra, or a bad env: one error before any file
    folder = DaggerFolder.open(out, config, env, force)
    scores, expert = Dagger(folder, config, env, jobs, say, show).run()
    return folder, scores, expert


def learn(
    out: str | Path,
    config: RunConfig,
    env: Mapping[str, Any],
    *,
    jobs: int = 1,
    force: bool = False,
    say: Callable[[str], None] = print,
    show: bool = False,
) -> dict[str, Any]:
    """The whole recipe: `run_dagger`, then the round with the best mean reward on the choosing seeds,
    then its model and the expert on the test seeds; the report (report.json, written once)."""
    folder, scores, expert = run_dagger(out, config, env, jobs=jobs, force=force, say=say, show=show)
    if folder.report.is_file():
        return read_json(folder.report)
    best = chosen(scores)
    test = SeedPlan(config.dagger).test
    model = folder.run(best.round) / "best.npz"
    say(f"round {best.round}'s model and the expert drive the test seeds {span(test)}")
    report = drive(str(model), test, jobs=jobs, env_id=env["env"], env_kwargs=env["env_kwargs"])
    result = {
        "chosen_round": best.round,
        "model": str(model.relative_to(folder.out)),
        **choosing_table(scores, expert, config.dagger),
        "test_seeds": span(test),
        "test": {**report.to_dict(), "expert_episodes": [e.to_dict() for e in report.expert or ()]},
    }
    write_json(folder.report, result)
    return result


def choosing_table(
    scores: Sequence[RoundScore], expert: Sequence[Episode], dagger: DaggerConfig
) -> dict[str, Any]:
    """The score per round on the choosing seeds: `choose_seeds` ('1000-1009'), `choose_expert` (the
    expert's Summary as a dict) and `rounds`, a row per round: round, beta, frames aggregated, reward
    mean, sd, min, % of the expert's mean (None when that is not above 0), and whether it is chosen."""
    expert_mean = Summary.of(expert).mean
    best = chosen(scores).round
    rows = [
        {
            "round": s.round,
            "beta": s.beta,
            "frames": s.frames,
            "mean": s.summary.mean,
            "sd": s.summary.sd,
            "min": s.summary.min,
            "percent_of_expert": 100 * s.summary.mean / expert_mean if expert_mean > 0 else None,
            "chosen": s.round == best,
        }
        for s in scores
    ]
    return {
        "choose_seeds": span(SeedPlan(dagger).choosing),
        "choose_expert": asdict(Summary.of(expert)),
        "rounds": rows,
    }
