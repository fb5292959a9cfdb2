"""Run configuration: TOML files in `configs/`, every value overridable with `--set section.key=value`.

A run's config is one `RunConfig`: a frozen dataclass per TOML section, each field with its default and
its allowed values (`rule`) written once, beside it. `load_config` reads defaults, then a file, then
the overrides; an unknown section or key, a value of the wrong type or out of its range is a one-line
error naming the source, the key and what is allowed. A function is given the section it reads
(`config.train`, `config.data`...), never the whole config. `RunConfig.to_dict` is the form saved in
`config.toml` and in checkpoints; `RunConfig.from_dict` reads it back, keys a saved config predates
taking today's defaults.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from drivenet.errors import DrivenetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Rule = tuple[Callable[[Any], bool], str]  # (does a value pass, the allowed values in words)


def between(lo: float, hi: float = math.inf, *, lo_open: bool = False, hi_open: bool = False) -> Rule:
    """Finite numbers from `lo` to `hi`, an end excluded where `*_open` says so."""

    def ok(v: float) -> bool:
        above = lo < v if lo_open else lo <= v
        below = v < hi if hi_open else v <= hi
        return math.isfinite(v) and above and below

    if hi == math.inf:
        return ok, f"{'above' if lo_open else 'at least'} {number(lo)}"
    return ok, f"in {'(' if lo_open else '['}{number(lo)}, {number(hi)}{')' if hi_open else ']'}"


def number(value: float) -> str:
    """A limit for people: whole numbers in full (4294967295, not 4.29497e+09), others as %g."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def one_of(*choices: str) -> Rule:
    return (lambda v: v in choices), f"one of {', '.join(choices)}"


def each(rule: Rule, most: int = 1000) -> Rule:
    """Lists of at most `most` items, each passing `rule`."""
    return (
        (lambda v: len(v) <= most and all(rule[0](item) for item in v)),
        f"a list whose items are each {rule[1]}, at most {most} of them",
    )


ANY: Rule = (lambda v: True, "anything of its type")
NAME: Rule = (lambda v: bool(v.strip()), "a non-empty name")
SHARE = between(0, 1)
COUNT = between(0)  # numbers 0 and up
POSITIVE = between(0, lo_open=True)
SEED = between(0, 2**32 - 1)  # what numpy's and Gymnasium's generators take
MAX_REPEATS = 100  # a recording's frames this many times per epoch at most (the README's example: 3)
REPEATS: Rule = (
    lambda v: all(bool(name.strip()) and type(n) is int and 1 <= n <= MAX_REPEATS for name, n in v.items()),
    f'a table of recording names and whole numbers in [1, {MAX_REPEATS}], like {{"udacity-sample" = 3}}',
)
TARGETS = ("steering", "throttle", "brake")  # what a model may predict; steering always, first
PEDALS = TARGETS[1:]
TARGET_LIST: Rule = (
    lambda v: bool(v) and v[0] == "steering" and len(set(v)) == len(v) and set(v) <= set(TARGETS),
    'a list of steering and then any of throttle, brake, each once, like ["steering", "throttle"]',
)
WEIGHTS: Rule = (
    lambda v: all(
        name in PEDALS and isinstance(w, int | float) and not isinstance(w, bool) and 0 <= w < math.inf
        for name, w in v.items()
    ),
    "a table of pedal targets (throttle, brake) and weights of at least 0, like {throttle = 0.5}",
)
WINDOW: Rule = (
    lambda v: 0 <= v <= 1001 and (v <= 1 or v % 2 == 1),
    "0 (off) or an odd number of frames in [1, 1001]",
)
FORMATS = ("auto", "udacity", "donkey", "sully", "csv")
PRESETS = ("auto", "udacity", "donkey", "sully", "roads")
RETIRED = frozenset({"train.weight_average"})  # keys of older saved configs that drivenet no longer reads
MAX_DEPTH = 3  # lists and tables nest at most this deep in a value (model.conv, a list of tables: 2)
MAX_VALUE_CHARS = 10_000  # characters of one --set value
MAX_CONFIG_BYTES = 2**20  # bytes of a TOML config file
SHOWN = 80  # characters of a --set override quoted in a message


def setting(default: Any, rule: Rule = ANY, example: Any = None) -> Any:
    """A config field: its default (a list as a tuple, a table as a dict; MISSING: required, shown in
    errors by `example`) and its allowed values."""
    metadata = {"rule": rule, **({"example": example} if example is not None else {})}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class DataConfig:
    """`[data]`: which recordings are read and how a frame becomes a network input."""

    format: str = setting("auto", one_of(*FORMATS))
    cameras: str = setting("center", one_of("center", "all"))
    side_correction: float = setting(0.2, SHARE)  # steering added for the left camera, taken from the right
    wheel_degrees_per_unit: float = setting(450.0, POSITIVE)  # Sully-style logs: wheel degrees of 1.0
    csv_image_column: str = setting("image", NAME)
    csv_steering_column: str = setting("steering", NAME)
    crop_top: float = setting(0.35, between(0, 0.95, hi_open=True))  # share of rows cut from the top (sky)
    crop_bottom: float = setting(0.15, between(0, 0.95, hi_open=True))  # share cut from the bottom (hood)
    width: int = setting(32, between(1, 4096))
    height: int = setting(30, between(1, 4096))
    color: str = setting("gray", one_of("gray", "rgb", "yuv"))
    motion_gaps: tuple[int, ...] = setting(
        (), each(between(1, 1000), most=16)
    )  # frames back whose difference joins
    workers: int = setting(2, between(1, 64))  # processes that decode images
    follow_links: bool = setting(False)  # read files that links lead to outside the recording (find -L)

    def check(self) -> None:
        """The rule that joins two keys (checked once the whole config is read, so in any order)."""
        if self.crop_top + self.crop_bottom >= 0.95:
            raise DrivenetError(
                f"data.crop_top = {self.crop_top} and data.crop_bottom = {self.crop_bottom} leave less than "
                "5% of the rows; make their sum below 0.95"
            )


@dataclass(frozen=True)
class ConvLayer:
    """One table of `model.conv`: a convolution of `filters` `kernel`x`kernel` kernels, then an optional
    `pool`x`pool` max-pool (0: none)."""

    filters: int = setting(MISSING, between(1, 4096), example=24)
    kernel: int = setting(MISSING, between(1, 64), example=5)
    stride: int = setting(1, between(1, 64))
    padding: str = setting("valid", one_of("valid", "same"))
    pool: int = setting(0, between(0, 64))


@dataclass(frozen=True)
class ModelConfig:
    """`[model]`: the network and its steering encoding."""

    hidden: tuple[int, ...] = setting((64,), each(between(1, 100_000), most=64))
    activation: str = setting("sigmoid", one_of("sigmoid", "tanh", "relu", "elu"))
    encoding: str = setting("scalar", one_of("scalar", "bump", "classes"))
    outputs: int = setting(
        45, between(5, 1000)
    )  # units of the bump encoding (its decoder fits 5 around the peak)
    scalar_output: str = setting("tanh", one_of("tanh", "linear"))  # output unit of the scalar encoding
    class_magnitude: float = setting(0.5, between(0, 1, lo_open=True))  # steering of the turn classes
    init: str = setting("xavier", one_of("xavier", "he"))
    dtype: str = setting("float32", one_of("float32", "float64"))
    conv: tuple[ConvLayer, ...] = setting((), (lambda v: len(v) <= 32, "a list of at most 32 tables"))
    dropout: float = setting(0.0, between(0, 1, hi_open=True))  # share of hidden units dropped per batch
    mirror_average: bool = setting(False)  # steer (f(x) - f(mirror x)) / 2: left/right-consistent
    targets: tuple[str, ...] = setting(("steering",), TARGET_LIST)  # steering, then pedals: one unit each
    target_weights: dict[str, float] = setting({}, WEIGHTS)  # pedal -> weight of its MSE in the loss (1)

    def check(self) -> None:
        """The rule that joins two keys (checked once the whole config is read, so in any order)."""
        unused = sorted(set(self.target_weights) - set(self.targets))
        if unused:
            raise DrivenetError(
                f"model.target_weights weighs {', '.join(unused)}, which model.targets = "
                f"{list(self.targets)} does not predict; add it to model.targets or drop its weight"
            )


@dataclass(frozen=True)
class TrainConfig:
    """`[train]`: the optimisation, its schedule, early stopping and the split (the `val_*`, `test_*` and
    `split_*` keys, which `drivenet.data.split` reads)."""

    epochs: int = setting(30, between(1, 1_000_000))
    batch_size: int = setting(64, between(1, 65_536))
    optimizer: str = setting("adam", one_of("adam", "sgd"))
    lr: float = setting(0.001, POSITIVE)
    lr_decay: float = setting(1.0, between(0, 1, lo_open=True))  # lr multiplied by this after each epoch
    momentum: float = setting(0.9, between(0, 1, hi_open=True))
    weight_decay: float = setting(0.0, COUNT)
    val_fraction: float = setting(0.2, between(0, 1, lo_open=True, hi_open=True))
    split_block: int = setting(200, between(0, 10**9))  # frames per contiguous block of the split (0: one)
    split_seed: int = setting(0, SEED)  # picks which blocks are held out for validation
    val_recordings: tuple[str, ...] = setting((), each(NAME))  # recordings held out whole for validation
    test_fraction: float = setting(0.0, between(0, 1, hi_open=True))  # share held out as the test split
    test_recordings: tuple[str, ...] = setting((), each(NAME))  # recordings held out whole as the test
    patience: int = setting(8, between(1, 1_000_000))  # epochs without a better validation loss, then stop
    seed: int = setting(0, SEED)

    def check(self) -> None:
        """The rules that join two keys (checked once the whole config is read, so in any order)."""
        held_whole = self.val_recordings or self.test_recordings
        if self.val_fraction + self.test_fraction >= 1 and not held_whole:
            raise DrivenetError(
                f"train.val_fraction = {self.val_fraction} and train.test_fraction = {self.test_fraction} "
                "leave no frames to train on; make their sum below 1"
            )
        both = set(self.val_recordings) & set(self.test_recordings)
        if both:
            raise DrivenetError(
                f"{', '.join(sorted(both))} in both train.val_recordings and train.test_recordings; "
                "a recording can be in only one"
            )


@dataclass(frozen=True)
class AugmentConfig:
    """`[augment]`: what training changes in each batch (`drivenet.data.augment`, view synthesis)."""

    flip: bool = setting(True)
    drop_zero_share: float = setting(0.0, SHARE)  # share of near-zero-steering frames dropped each epoch
    zero_threshold: float = setting(0.02, SHARE)
    shift_pixels: int = setting(0, between(0, 4096))  # largest lateral shift, in cache pixels
    shift_steering_per_pixel: float = setting(0.0, SHARE)
    shift_m: float = setting(0.0, between(0, 5))  # view synthesis: std of the lateral camera shift, metres
    yaw_deg: float = setting(0.0, between(0, 45))  # view synthesis: std of the camera yaw, degrees
    recovery_seconds: float = setting(2.0, POSITIVE)  # a synthesised view steers back onto the path in this
    recovery_speed: float = setting(13.0, POSITIVE)  # m/s for that label and a clip's drift (~30 mph)
    brightness: float = setting(0.0, SHARE)  # largest relative brightness change
    smooth_window: int = setting(0, WINDOW)  # frames in the label-smoothing window, odd (0 = off)
    channel_brightness: float = setting(0.0, SHARE)  # largest brightness change of each colour channel
    channel_contrast: float = setting(0.0, SHARE)  # largest contrast change of each colour channel
    shadow: float = setting(0.0, SHARE)  # share of frames with a random dark band
    shadow_darkness: float = setting(0.5, SHARE)  # a shadow scales its pixels by a factor in [1 - this, 1]
    vertical_pixels: int = setting(
        0, between(0, 4096)
    )  # largest vertical shift, in cache pixels (steering unchanged)
    recording_repeats: dict[str, int] = setting({}, REPEATS)  # recording -> times its frames come per epoch

    @property
    def views(self) -> bool:
        """Whether view synthesis is on (a camera shift or yaw is drawn)."""
        return self.shift_m > 0 or self.yaw_deg > 0


@dataclass(frozen=True)
class EvaluateConfig:
    """`[evaluate]`: how steering is scored."""

    straight_band: float = setting(0.05, SHARE)  # |steering| at most this counts as straight
    smooth_window: int = setting(5, WINDOW)


@dataclass(frozen=True)
class CameraConfig:
    """`[camera]`: the recording source's geometry (`drivenet.geometry.camera`); 0 keeps the preset's."""

    preset: str = setting("auto", one_of(*PRESETS))  # auto: data.format's, else told by the frame size
    width: int = setting(0, between(0, 100_000))  # raw frame width, pixels
    height: int = setting(0, between(0, 100_000))  # raw frame height, pixels
    fov_degrees: float = setting(0.0, between(0, 180, hi_open=True))  # vertical field of view
    mount_height: float = setting(0.0, between(0, 100))  # metres above the road
    horizon: float = setting(0.0, between(0, 1, hi_open=True))  # share of the height above the horizon
    side_offset: float = setting(0.0, between(0, 10))  # metres from the centre camera to each side camera
    wheel_degrees: float = setting(0.0, between(0, 90, hi_open=True))  # front-wheel angle at steering 1.0
    wheelbase: float = setting(0.0, between(0, 100))  # metres

    def overrides(self) -> dict[str, float]:
        """The non-zero geometry keys (all but `preset` and `horizon`), which replace a preset's values."""
        names = [f.name for f in fields(self) if f.name not in ("preset", "horizon")]
        return {name: getattr(self, name) for name in names if getattr(self, name)}


@dataclass(frozen=True)
class DaggerConfig:
    """`[dagger]`: `drivenet gym dagger` and `gym learn` (`drivenet.drive.gym.dagger`): behavioural cloning
    on the expert's episodes, then DAgger rounds, and the seeds that choose a round and report it."""

    bc_episodes: int = setting(20, between(1, 1000))  # the expert's episodes of round 0
    noise: float = setting(0.05, between(0, 1))  # DART: steering sd added to round 0's expert driving
    rounds: int = setting(4, between(0, 100))  # DAgger rounds after behavioural cloning (0: cloning only)
    episodes: int = setting(8, between(1, 1000))  # episodes recorded in each DAgger round
    beta: float = setting(0.5, SHARE)  # the expert's share of the steps in round 1
    beta_decay: float = setting(0.5, SHARE)  # round r's share: beta * beta_decay^(r - 1)
    train_seed: int = setting(10000, between(0, 2**31 - 1))  # round r records seeds train_seed + 1000 r + i
    choose_seed: int = setting(
        1000, between(0, 2**31 - 1)
    )  # first seed that scores each round, to pick the best
    choose_episodes: int = setting(10, between(1, 10_000))
    test_seed: int = setting(
        0, between(0, 2**31 - 1)
    )  # first seed of the final report, used by no training or choice
    test_episodes: int = setting(100, between(1, 10_000))


@dataclass(frozen=True)
class RunConfig:
    """A run's whole config: one typed section per TOML table."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    dagger: DaggerConfig = field(default_factory=DaggerConfig)

    def updated(self, update: Mapping[str, Any], source: str) -> RunConfig:
        """This config with the sections and keys of `update` replaced, each checked against its rule;
        errors name `source`. The rules that join keys wait for `check`."""
        sections = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, values in update.items():
            if name not in sections:
                raise DrivenetError(f"{source}: unknown section [{name}]; known: {', '.join(sections)}")
            if not isinstance(values, Mapping):
                raise DrivenetError(f"{source}: [{name}] must be a table")
            sections[name] = _updated(sections[name], values, f"{source}: {name}.", f"{name}.")
        return RunConfig(**sections)

    def check(self) -> RunConfig:
        """This config, once the rules that join two keys of a section pass (a DrivenetError if not)."""
        self.data.check()
        self.model.check()
        self.train.check()
        return self

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str) -> RunConfig:
        """A saved config (`to_dict`), keys it predates taking today's defaults; keys it holds that
        drivenet no longer has (`RETIRED`) are dropped."""
        kept = {
            name: {k: v for k, v in table.items() if f"{name}.{k}" not in RETIRED}
            if isinstance(table, Mapping)
            else table
            for name, table in values.items()
        }
        return cls().updated(kept, source).check()

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """`{section: {key: value}}` with lists and tables as JSON and TOML write them."""
        return json.loads(json.dumps(asdict(self)))


def _updated(section: Any, values: Mapping[str, Any], where: str, key_prefix: str) -> Any:
    """`section` (a config dataclass) with `values` checked and set; `where` prefixes error messages."""
    known = {f.name: f for f in fields(section)}
    for key, value in values.items():
        if key not in known:
            source = where.removesuffix(key_prefix)
            raise DrivenetError(f"{source}unknown key {key_prefix}{key}; known keys: {', '.join(known)}")
        if nesting(value) > MAX_DEPTH:
            raise DrivenetError(
                f"{where}{key}: lists and tables nested more than {MAX_DEPTH} deep; a config value nests "
                f"at most {MAX_DEPTH} deep"
            )
    hints = get_type_hints(type(section))
    return replace(section, **{k: _checked(f"{where}{k}", hints[k], known[k], v) for k, v in values.items()})


def _checked(where: str, hint: Any, spec: Any, value: Any) -> Any:
    """`value` made the field's type `hint` and checked against its rule, or a one-line error naming
    `where` and the wanted type or the allowed values."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple and hasattr(args[0], "__dataclass_fields__"):
        return _tables(where, args[0], value)
    if origin is tuple:
        ok = isinstance(value, list | tuple) and all(_is(args[0], v) for v in value)
        typed: Any = tuple(value) if ok else value
    elif origin is dict:
        ok = isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
        typed = dict(value) if ok else value
    else:
        ok = _is(hint, value)
        typed = float(value) if ok and hint is float else value
    if not ok:
        name = {tuple: "list", dict: "dict"}.get(origin, getattr(hint, "__name__", str(hint)))
        like = spec.metadata["example"] if "example" in spec.metadata else _plain(_default(spec))
        raise DrivenetError(
            f"{where}: expected {name} like {json.dumps(like)}, got {_cut(json.dumps(value))}"
        )
    rule, wanted = spec.metadata.get("rule", ANY)
    if not rule(typed):
        raise DrivenetError(f"{where} = {_cut(json.dumps(_plain(typed)))}: must be {wanted}")
    return typed


def nesting(value: Any) -> int:
    """How deep lists and tables nest in `value` (a scalar: 0), counted without recursion and only up to
    MAX_DEPTH + 1."""
    deepest, stack = 0, [(value, 0)]
    while stack and deepest <= MAX_DEPTH:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            item = list(item.values())
        if isinstance(item, list | tuple):
            deepest = max(deepest, depth + 1)
            stack += [(child, depth + 1) for child in item]
    return deepest


def _default(spec: Any) -> Any:
    return spec.default_factory() if spec.default_factory is not MISSING else spec.default


def _is(kind: type, value: Any) -> bool:
    """Whether `value` is of `kind`, a bool never counting as a number nor a number as a bool."""
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _tables(where: str, kind: type, value: Any) -> tuple[Any, ...]:
    """A list of tables, each checked and made a `kind` (missing optional keys take their defaults)."""
    specs = {f.name: f for f in fields(kind)}
    required = [name for name, spec in specs.items() if _default(spec) is MISSING]
    example = "{" + ", ".join(f"{name} = {specs[name].metadata['example']}" for name in required) + "}"
    if not isinstance(value, list | tuple) or not all(isinstance(t, Mapping) for t in value):
        raise DrivenetError(f"{where}: expected a list of tables like [{example}], got {json.dumps(value)}")
    hints = get_type_hints(kind)
    tables = []
    for i, table in enumerate(value):
        unknown = sorted(set(table) - set(specs))
        if unknown:
            raise DrivenetError(f"{where}[{i}]: unknown key {unknown[0]}; known keys: {', '.join(specs)}")
        missing = [name for name in required if name not in table]
        if missing:
            raise DrivenetError(f"{where}[{i}]: {missing[0]} is missing; each table needs e.g. {example}")
        checked = {k: _checked(f"{where}[{i}].{k}", hints[k], specs[k], v) for k, v in table.items()}
        tables.append(kind(**checked))
    return tuple(tables)


def _plain(value: Any) -> Any:
    """A value as JSON writes it (tuples as lists, dataclasses as tables)."""
    return json.loads(json.dumps(value, default=asdict))


def parse_override(text: str) -> tuple[str, str, Any]:
    """Parse `section.key=value`; the value is read as TOML (`0.05`, `true`, `[64, 32]`, `"rgb"`)."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot:
        raise DrivenetError(f"--set {_cut(text)!r}: expected section.key=value, e.g. train.lr=0.05")
    where = f"--set {_cut(name.strip())}"
    if len(raw) > MAX_VALUE_CHARS:
        raise DrivenetError(f"{where}: the value has {len(raw)} characters; at most {MAX_VALUE_CHARS}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as rgb
    except RecursionError:
        raise DrivenetError(
            f"{where}: the value nests too deep; a config value nests at most {MAX_DEPTH} deep"
        ) from None
    return section, key, value


def _cut(text: str) -> str:
    """`text`, cut to SHOWN characters for a message."""
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def apply_overrides(config: RunConfig, overrides: Iterable[str]) -> RunConfig:
    """`config` with each `section.key=value` of `overrides` applied in turn, then `check`ed."""
    for text in overrides:
        section, key, value = parse_override(text)
        config = config.updated({section: {key: value}}, f"--set {_cut(text)}")
    return config.check()


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> RunConfig:
    """Defaults, then the TOML file at `path`, then each `section.key=value` override."""
    config = RunConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise DrivenetError(f"{path}: config file not found; see configs/ for examples")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise DrivenetError(
                f"{path}: {size} bytes is too large for a config (at most {MAX_CONFIG_BYTES})"
            )
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise DrivenetError(f"{path}: not valid TOML ({err})") from None
        except RecursionError:
            raise DrivenetError(
                f"{path}: a value nests too deep; config values nest at most {MAX_DEPTH} deep"
            ) from None
        config = config.updated(data, str(path))
    return apply_overrides(config, overrides)


def to_toml(config: RunConfig) -> str:
    """Write a config back as TOML (the resolved config saved with every run)."""
    lines: list[str] = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML key that needs no quotes


def toml_value(value: Any) -> str:
    """One value as TOML: lists and inline tables spelled out, scalars as JSON (which TOML reads alike)."""
    if isinstance(value, Mapping):
        quoted = {key: key if BARE_KEY.fullmatch(key) else json.dumps(key) for key in value}
        keyed = (f"{quoted[key]} = {toml_value(item)}" for key, item in value.items())
        return "{" + ", ".join(keyed) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)
