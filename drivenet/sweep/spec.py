"""A sweep's SPEC: base config, training data, the settings varied and the seeds, and two judges kept apart.

A SPEC is a TOML file; paths in it are relative to it:

    config = "alvinn.toml"                 # the base config
    train = ["roads-train"]                # recordings or caches every trial trains on
    seeds = [0, 1]                         # each point of the search is trained once per seed (train.seed)
    set = ["train.epochs=3"]               # overrides of the base config for every trial
    ship = "ensemble"                      # the winner's seeds as one ensemble, or "best-seed"
    [grid]                                 # every combination of these values ...
    "train.lr" = [0.01, 0.05]
    [sample]                               # ... or `trials` points drawn with `seed` from ranges and choices
    trials = 8
    "train.lr" = {low = 0.001, high = 0.1, log = true}
    "model.hidden" = {choices = [[8], [16]]}
    [select]                               # picks the winner: judge, its data, metric, mean or worst seed
    judge = "offline"                      # offline | replay (recordings) | roads | gym (seeds)
    recordings = ["roads-val"]
    [report]                               # measured once, on the winner only
    judge = "offline"
    recordings = ["roads-test"]
    [workers]                              # optional: Optuna's shared storage for `sweep --worker`
    storage = "sweep.journal"              # a journal file (one machine or a shared disk) or an SQL URL

`select` and `report` never share a recording (nor a folder holding one) or a seed of the same world, and
neither judges on recordings that the trials train on: `load_spec` refuses such a SPEC in one line.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drivenet.config import RunConfig, load_config
from drivenet.drive.replay_mask import CAR_WIDTH, road_offset
from drivenet.errors import DrivenetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

# each judge's metrics, True where lower is better; a judge's first metric is its default
METRICS: dict[str, dict[str, bool]] = {
    "offline": {"rmse": True, "relative_rmse": True, "smoothed_rmse": True, "mae": True,
                "turn_sign_accuracy": False, "correlation": False},
    "replay": {"takeovers": True, "autonomy": False, "mean_offset": True},
    "roads": {"takeovers": True, "autonomy": False, "mean_offset": True},
    "gym": {"reward": False, "laps": False, "tile_share": False},
}  # fmt: skip
ON_RECORDINGS = ("offline", "replay")  # judges that read recordings; the others drive seeds
JUDGE_KEYS = {
    "judge",
    "recordings",
    "seeds",
    "metric",
    "by",
    "km",
    "max_offset",
    "max_heading",
    "mask",
    "road_width",
    "car_width",
    "speed",
    "env",
    "env_args",
}
TOP_KEYS = {"config", "train", "seeds", "set", "ship", "grid", "sample", "select", "report", "workers"}


@dataclass(frozen=True)
class Judge:
    """How trials are scored: `kind` (offline figures or replay on `recordings`, a drive on rendered
    roads or in CarRacing on `seeds`), the `metric` and whether the `mean` or the `worst` seed counts;
    `km` of road per seed, replay's takeover limits and speed (m/s, None: the log's), gym's env id and
    the arguments `gymnasium.make` gets (`{max_episode_steps = 300}` for shorter episodes). Replay
    masks the stretches where the recorded driver stood, reversed or paused unless `mask = false`;
    `max_offset = "road"` takes (road_width - car_width) / 2 m (drivenet/drive/replay_mask.py)."""

    kind: str
    recordings: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    metric: str = ""
    by: str = "mean"
    km: float = 1.0
    max_offset: float = 1.0
    max_heading: float = 15.0
    mask: bool = True
    speed: float | None = None
    env: str = "CarRacing-v3"
    env_args: dict[str, Any] = field(default_factory=dict)

    @property
    def lower_is_better(self) -> bool:
        return METRICS[self.kind][self.metric]

    def worst(self, values: Sequence[float]) -> float:
        """The worst of several seeds' scores."""
        return max(values) if self.lower_is_better else min(values)

    def describe(self) -> str:
        """`offline rmse on roads-val` or `roads takeovers on seeds 100, 101`, for people."""
        on = (
            ", ".join(self.recordings)
            if self.kind in ON_RECORDINGS
            else "seeds " + ", ".join(map(str, self.seeds))
        )
        return f"{self.kind} {self.metric} ({self.by} over seeds) on {on}"


@dataclass(frozen=True)
class SweepSpec:
    """A resolved SPEC: the base config (with `set`), training sources, seeds, the points of the search
    (each a {"section.key": value} of settings), the two judges, what to ship and the Optuna storage."""

    source: str
    base: dict[str, Any]
    train: tuple[str, ...]
    seeds: tuple[int, ...]
    points: tuple[dict[str, Any], ...]
    select: Judge
    report: Judge
    ship: str = "ensemble"
    storage: str | None = None
    study: str = field(default="", compare=False)

    def config(self, point: int, seed: int) -> RunConfig:
        """The config of one run: base, the point's settings, train.seed = seed."""
        update: dict[str, dict[str, Any]] = {}
        for key, value in {**self.points[point], "train.seed": seed}.items():
            section, _, name = key.partition(".")
            update.setdefault(section, {})[name] = value
        base = RunConfig.from_dict(self.base, self.source)
        return base.updated(update, f"{self.source}: point {point_name(point)}").check()

    @property
    def keys(self) -> list[str]:
        """The settings varied, in the order the SPEC names them."""
        return list(dict.fromkeys(k for p in self.points for k in p))

    def to_dict(self) -> dict[str, Any]:
        """Everything that decides the sweep's table (the storage and study name do not)."""
        out = asdict(self)
        for key in ("storage", "study", "source"):
            out.pop(key)
        return json.loads(json.dumps(out))


def point_name(index: int) -> str:
    """The name of a point of the search, and of its trial folder: p000, p001, ..."""
    return f"p{index:03d}"


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a SPEC; DrivenetError naming the key for anything wrong, or for judges that share
    data (`check_apart`)."""
    path = Path(path)
    if not path.is_file():
        raise DrivenetError(f"{path}: no such sweep SPEC; see configs/sweeps/synthetic.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DrivenetError(f"{path}: not valid TOML ({err})") from None
    where = str(path)
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise DrivenetError(f"{where}: unknown key {unknown[0]}; known: {', '.join(sorted(TOP_KEYS))}")
    here = path.parent
    config_path = _required(raw, "config", str, where)
    overrides = _list(raw.get("set", []), str, f"{where}: set")
    base = load_config(_resolve(here, config_path), overrides)
    train = tuple(
        _resolve(here, p) for p in _list(_required(raw, "train", list, where), str, f"{where}: train")
    )
    seeds = tuple(_list(_required(raw, "seeds", list, where), int, f"{where}: seeds"))
    if not train or not seeds or len(set(seeds)) != len(seeds):
        raise DrivenetError(f"{where}: train and seeds must each name at least one, seeds each once")
    _check_paths(train, f"{where}: train")
    _check_seeds(seeds, f"{where}: seeds")
    if ("grid" in raw) == ("sample" in raw):
        raise DrivenetError(f"{where}: give the settings to vary as one [grid] or one [sample] table")
    points = grid_points(raw["grid"], where) if "grid" in raw else sample_points(raw["sample"], where)
    ship = raw.get("ship", "ensemble")
    if ship not in ("ensemble", "best-seed"):
        raise DrivenetError(f'{where}: ship = {json.dumps(ship)}: must be "ensemble" or "best-seed"')
    workers = raw.get("workers", {})
    if not isinstance(workers, dict) or set(workers) - {"storage", "study"}:
        raise DrivenetError(f"{where}: [workers] takes storage and study")
    spec = SweepSpec(
        source=where,
        base=base.to_dict(),
        train=train,
        seeds=seeds,
        points=tuple(points),
        select=judge_of(_required(raw, "select", dict, where), here, f"{where}: [select]"),
        report=judge_of(_required(raw, "report", dict, where), here, f"{where}: [report]"),
        ship=ship,
        storage=_storage(workers.get("storage"), here, f"{where}: [workers] storage"),
        study=str(workers.get("study", "")),
    )
    for i in range(len(spec.points)):
        spec.config(i, seeds[0])  # every point makes a valid config (the error names the point)
    check_apart(spec)
    return spec


def judge_of(table: dict[str, Any], here: Path, where: str) -> Judge:
    """A `[select]` or `[report]` table as a Judge; its recordings resolved against `here`."""
    unknown = sorted(set(table) - JUDGE_KEYS)
    if unknown:
        raise DrivenetError(f"{where}: unknown key {unknown[0]}; known: {', '.join(sorted(JUDGE_KEYS))}")
    kind = table.get("judge")
    if kind not in METRICS:
        raise DrivenetError(f"{where}: judge = {json.dumps(kind)}: must be one of {', '.join(METRICS)}")
    metric = table.get("metric", next(iter(METRICS[kind])))
    if metric not in METRICS[kind]:
        raise DrivenetError(
            f"{where}: metric {json.dumps(metric)}: the {kind} judge has {', '.join(METRICS[kind])}"
        )
    if table.get("by", "mean") not in ("mean", "worst"):
        raise DrivenetError(f'{where}: by = {json.dumps(table["by"])}: must be "mean" or "worst"')
    recordings = tuple(
        _resolve(here, p) for p in _list(table.get("recordings", []), str, f"{where}: recordings")
    )
    seeds = tuple(_list(table.get("seeds", []), int, f"{where}: seeds"))
    needs, given = ("recordings", recordings) if kind in ON_RECORDINGS else ("seeds", seeds)
    if not given:
        raise DrivenetError(f"{where}: a {kind} judge needs {needs} = [...]")
    _check_paths(recordings, f"{where}: recordings")
    _check_seeds(seeds, f"{where}: seeds")
    road = _road_offset(table, where)
    numbers = {k: table[k] for k in ("km", "max_offset", "max_heading", "speed") if k in table}
    numbers.update({"max_offset": road} if road is not None else {})
    for key, value in numbers.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise DrivenetError(f"{where}: {key} = {json.dumps(value)}: must be a number above 0")
    env_args = _table(table.get("env_args", {}), f"{where}: env_args")
    if not isinstance(table.get("mask", True), bool):
        raise DrivenetError(f"{where}: mask = {json.dumps(table['mask'])}: must be true or false")
    return Judge(
        kind, recordings, seeds, metric, table.get("by", "mean"), **{k: float(v) for k, v in numbers.items()},
        mask=table.get("mask", True), env=str(table.get("env", "CarRacing-v3")), env_args=env_args,
    )  # fmt: skip


def _road_offset(table: dict[str, Any], where: str) -> float | None:
    """The max offset of `max_offset = "road"` from road_width and car_width (m); None for a number."""
    widths = [k for k in ("road_width", "car_width") if k in table]
    if table.get("max_offset") != "road":
        if widths:
            raise DrivenetError(f'{where}: {widths[0]} is read with max_offset = "road" only')
        return None
    values = {k: table[k] for k in widths}
    if "road_width" not in values or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()
    ):
        raise DrivenetError(f'{where}: max_offset = "road" needs road_width = M (car_width = M: 1.8 if not)')
    try:
        return road_offset(float(values["road_width"]), float(values.get("car_width", CAR_WIDTH)))
    except DrivenetError as err:
        raise DrivenetError(f"{where}: {err}") from None


def grid_points(grid: Any, where: str) -> list[dict[str, Any]]:
    """Every combination of the `[grid]` values, the last key varying fastest."""
    if not isinstance(grid, dict) or not grid:
        raise DrivenetError(
            f'{where}: [grid] maps settings to lists of values, e.g. "train.lr" = [0.01, 0.1]'
        )
    for key, values in grid.items():
        _setting_key(key, where)
        if not isinstance(values, list) or not values:
            raise DrivenetError(f"{where}: grid {key}: expected a list of values to try")
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]


def sample_points(sample: Any, where: str) -> list[dict[str, Any]]:
    """`trials` points drawn with `seed` (0): each key from its `choices`, or uniformly from [low, high]
    (log-uniformly with `log = true`; rounded for `int = true`)."""
    if not isinstance(sample, dict):
        raise DrivenetError(f"{where}: [sample] must be a table")
    ranges = {k: v for k, v in sample.items() if k not in ("trials", "seed")}
    trials, seed = sample.get("trials"), sample.get("seed", 0)
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1 or not isinstance(seed, int):
        raise DrivenetError(f"{where}: [sample] needs trials = N (N >= 1) and an integer seed")
    if not ranges:
        raise DrivenetError(f"{where}: [sample] names no setting to vary")
    rng = np.random.default_rng(seed)
    points: list[dict[str, Any]] = [{} for _ in range(trials)]
    for key, draw in ranges.items():
        _setting_key(key, where)
        for point, value in zip(points, _draws(draw, trials, rng, f"{where}: sample {key}"), strict=True):
            point[key] = value
    return points


def _draws(draw: Any, n: int, rng: np.random.Generator, where: str) -> list[Any]:
    """n values of one `[sample]` entry."""
    if isinstance(draw, dict) and "choices" in draw and isinstance(draw["choices"], list) and draw["choices"]:
        return [draw["choices"][i] for i in rng.integers(0, len(draw["choices"]), n)]
    lo, hi = (draw.get("low"), draw.get("high")) if isinstance(draw, dict) else (None, None)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi))
    if not numeric or not lo < hi or (draw.get("log") and lo <= 0):  # type: ignore[operator]
        raise DrivenetError(
            f"{where}: expected {{choices = [...]}} or {{low = A, high = B}} with A < B (A > 0 for log)"
        )
    u = rng.uniform(0.0, 1.0, n)
    values = np.exp(np.log(lo) + u * np.log(hi / lo)) if draw.get("log") else lo + u * (hi - lo)
    return [int(round(v)) for v in values] if draw.get("int") else [float(v) for v in values]


def check_apart(spec: SweepSpec) -> None:
    """Refuse judges that share data: select and report on one recording (or a folder holding it) or one
    seed of the same world, and judging on recordings the trials train on."""
    pairs = [("select", spec.select, "report", spec.report)]
    pairs += [
        (name, judge, "train", None) for name, judge in (("select", spec.select), ("report", spec.report))
    ]
    for a_name, a, b_name, b in pairs:
        a_paths = a.recordings if a.kind in ON_RECORDINGS else ()
        b_paths = spec.train if b is None else b.recordings if b.kind in ON_RECORDINGS else ()
        for x, y in itertools.product(a_paths, b_paths):
            if any(_overlap(u, v) for u, v in itertools.product(_folders(x), _folders(y))):
                raise DrivenetError(
                    f"{spec.source}: [{a_name}] and {b_name} share the recording {max(x, y, key=len)}; "
                    f"give [{a_name}] recordings that nothing else uses"
                )
        if b is not None and a.kind == b.kind and a.kind not in ON_RECORDINGS:
            shared = sorted(set(a.seeds) & set(b.seeds))
            if shared:
                raise DrivenetError(
                    f"{spec.source}: [select] and [report] both drive {a.kind} seed {shared[0]}; "
                    "give [report] seeds that did not choose the winner"
                )


def _folders(path: str) -> list[Path]:
    """Where a recording's frames lie: the folder or log itself, or for a preprocessed cache (`.npz`) the
    folders of the frames it was made from."""
    if not path.endswith(".npz"):
        return [Path(path)]
    from drivenet.data.cache import SteeringCache

    frames = SteeringCache.load(path).frames["path"]
    return [Path(folder) for folder in sorted({str(Path(f).parent) for f in frames})]


def _overlap(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


def _resolve(here: Path, path: str) -> str:
    return str(path if Path(path).is_absolute() else here / path)


def _required(raw: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in raw or not isinstance(raw[key], kind):
        wanted = {str: "a string", list: "a list", dict: "a table"}[kind]
        raise DrivenetError(f"{where}: {key} must be given, as {wanted}")
    return raw[key]


def _table(values: Any, where: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise DrivenetError(f"{where}: expected a table like {{max_episode_steps = 300}}")
    return values


def _storage(storage: Any, here: Path, where: str) -> str | None:
    """An SQL URL as it is, a journal file relative to the SPEC."""
    if storage is None or (isinstance(storage, str) and "://" in storage):
        return storage
    if not isinstance(storage, str):
        raise DrivenetError(f"{where}: expected a journal file or an SQL URL, got {json.dumps(storage)}")
    return _resolve(here, storage)


def _check_paths(paths: Sequence[str], where: str) -> None:
    for path in paths:
        if not Path(path).exists():
            raise DrivenetError(f"{where}: {path}: no such file or folder; paths are relative to the SPEC")


def _check_seeds(seeds: Sequence[int], where: str) -> None:
    if any(seed < 0 for seed in seeds):
        raise DrivenetError(f"{where}: {min(seeds)}: seeds are integers from 0")


def _list(values: Any, kind: type, where: str) -> list[Any]:
    if not isinstance(values, list) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in values
    ):
        raise DrivenetError(f"{where}: expected a list of {kind.__name__}, got {json.dumps(values)}")
    return values


def _setting_key(key: str, where: str) -> None:
    if key.count(".") != 1 or key == "train.seed":
        raise DrivenetError(f"{where}: {key!r}: name a setting as section.key (seeds go in `seeds`)")
