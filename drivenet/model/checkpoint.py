"""The checkpoint file: a steering model on disk, network weights and JSON metadata in one `.npz`.

It carries everything needed to steer from a raw camera frame: the architecture spec, the encoding spec
(how output activations map to a steering value), the targets (steering, then the pedals it predicts;
a file without them predicts steering only), the preprocessing (crop, size, colour), the motion gaps and
the run's resolved config. `last.npz` also holds the optimizer state, for `--resume`. Loaded with
`allow_pickle=False` (`drivenet.io.load_npz`): a checkpoint is never unpickled.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from drivenet import __version__
from drivenet.config import RunConfig
from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.io import Member, check_kind, load_npz, save_npz
from drivenet.model.encoding import encoding_from_spec
from drivenet.model.steering_model import SteeringModel
from drivenet.model.targets import TargetHeads
from drivenet.nn import Network
from drivenet.nn.network import MAX_PARAMETERS

KIND = "drivenet-steering-model"
VERSION = 1
NET_PREFIX = "net/"
OPTIMIZER_PREFIX = "optimizer/"


def save_model(
    model: SteeringModel, path: str | Path, optimizer_state: dict[str, Any] | None = None, **meta: Any
) -> Path:
    """Write weights + JSON metadata atomically; keyword values are added to the saved metadata."""
    arrays = {NET_PREFIX + k: v for k, v in model.net.state_dict().items()}
    scalars: dict[str, Any] = {}
    for key, value in (optimizer_state or {}).items():
        if isinstance(value, np.ndarray):
            arrays[OPTIMIZER_PREFIX + key] = value
        else:
            scalars[key] = value
    header = {
        "kind": KIND,
        "version": VERSION,
        "drivenet_version": __version__,
        "architecture": model.net.spec(),
        "encoding": model.encoding.spec(),
        "targets": list(model.targets),
        "preprocess": model.preprocess.to_dict(),
        "motion_gaps": list(model.motion_gaps),
        "mirror_average": model.mirror_average,
        "optimizer": scalars if optimizer_state is not None else None,
    }
    return save_npz(path, arrays, {**model.meta, **meta, **header})


def load_model(path: str | Path) -> SteeringModel:
    """Read a checkpoint, or an ensemble file (the model that averages its members); DrivenetError for
    another format, version or shape, or a corrupt file."""
    from drivenet.model import ensemble  # it builds its members with load_checkpoint

    path = Path(path)
    arrays, meta = load_npz(path, check=lambda meta, members: check_model_file(path, meta, members))
    if meta.get("kind") == ensemble.KIND:
        return ensemble.load_ensemble(path, arrays, meta)
    return load_checkpoint(path, (arrays, meta))[0]


def load_checkpoint(
    path: str | Path, stored: tuple[dict[str, np.ndarray], dict[str, Any]] | None = None
) -> tuple[SteeringModel, dict[str, Any] | None]:
    """(model, optimizer state or None) from a checkpoint written by `save_model`, or from its `stored`
    (arrays, metadata) already read (by `load_model`, or an ensemble's member; `path` then names it).

    Before any array is read or allocated, the metadata is checked (`check_header`) and every member of
    the archive against it (`check_members`: known names, the shapes the architecture declares, at most
    MAX_PARAMETERS); after reading, weights and optimizer state must be finite.
    """
    if stored is None:
        path = Path(path)
        arrays, meta = load_npz(path, check=lambda meta, members: check_members(path, meta, members))
    else:
        arrays, meta = stored
        check_members(path, meta, {name: (a.shape, a.dtype) for name, a in arrays.items()})
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int(np.size(array) - np.isfinite(array).sum())
            raise DrivenetError(
                f"{path}: {name} holds {bad} values that are not finite (NaN or infinity); the model "
                "diverged or the file is corrupt: use an earlier checkpoint or retrain"
            )
    try:
        weights = [a for k, a in arrays.items() if k.startswith(NET_PREFIX)]
        net = Network.from_spec(meta["architecture"], weights[0].dtype if weights else np.float32)
        heads = TargetHeads(encoding_from_spec(meta["encoding"]), meta.get("targets", ["steering"]))
        preprocess = Preprocess.from_dict(meta["preprocess"])
        gaps = tuple(int(gap) for gap in meta.get("motion_gaps", []))
        mirror = bool(meta.get("mirror_average", saved_mirror_average(meta)))
    except (KeyError, TypeError, ValueError, DrivenetError) as err:  # DrivenetError: a [data] rule broken
        raise DrivenetError(f"{path}: corrupt model metadata ({err}); retrain or re-save the model") from None
    try:
        net.load_state_dict({k[len(NET_PREFIX) :]: v for k, v in arrays.items() if k.startswith(NET_PREFIX)})
    except ValueError as err:
        raise DrivenetError(f"{path}: {err}") from None
    model = SteeringModel(net, heads.encoding, preprocess, {}, gaps, mirror, heads.names)
    image = model.input_shape
    if net.input_shape not in (image, (int(np.prod(image)),)) or net.n_outputs != heads.n_outputs:
        raise DrivenetError(
            f"{path}: its network reads {list(net.input_shape)} and gives {net.n_outputs} outputs, but its "
            f"preprocessing makes {list(image)} and its encoding and targets {list(heads.names)} need "
            f"{heads.n_outputs}; the file is corrupt"
        )
    optimizer_state = None
    if meta.get("optimizer") is not None:
        optimizer_state = dict(meta["optimizer"])
        optimizer_state.update(
            {k[len(OPTIMIZER_PREFIX) :]: v for k, v in arrays.items() if k.startswith(OPTIMIZER_PREFIX)}
        )
    model.meta = {k: v for k, v in meta.items() if k not in HEADER}
    return model, optimizer_state


HEADER = {"architecture", "encoding", "targets", "preprocess", "motion_gaps", "mirror_average", "optimizer"}
MAX_FRAME_SIDE = 100_000  # pixels of a recorded frame's side (as camera.width and camera.height allow)


def check_model_file(path: Path, meta: dict[str, Any], members: dict[str, Member]) -> None:
    """`check_members` for a checkpoint; for an ensemble file, for each member's header and the arrays
    under its prefix, at most MAX_PARAMETERS in all, and no array outside the members."""
    from drivenet.model import ensemble

    headers = meta.get("members")
    if meta.get("kind") != ensemble.KIND:
        check_members(path, meta, members)
        return
    if not isinstance(headers, list):
        raise DrivenetError(f"{path}: corrupt ensemble metadata (no member list); re-create it")
    total = 0
    for k, header in enumerate(headers):
        prefix = ensemble.member_prefix(k)
        own = {name[len(prefix) :]: member for name, member in members.items() if name.startswith(prefix)}
        if not isinstance(header, dict):
            raise DrivenetError(f"{path}: corrupt ensemble metadata (member {k} has no header); re-create it")
        check_members(f"{path} (member {k})", header, own)
        total += sum(math.prod(shape) for shape, _ in own.values())
    prefixes = tuple(ensemble.member_prefix(k) for k in range(len(headers)))
    stray = [name for name in members if not name.startswith(prefixes)]
    if stray or total > MAX_PARAMETERS:
        reason = f"an array {stray[0]!r} of no member" if stray else f"{total} parameters in all"
        raise DrivenetError(f"{path}: holds {reason}; re-create the ensemble")


def check_members(path: str | Path, meta: dict[str, Any], members: dict[str, Member]) -> None:
    """Refuse a checkpoint by its metadata and its arrays' names, shapes and dtypes, before reading them:
    every `net/` member is a parameter the architecture declares, of that shape; every `optimizer/`
    member is `steps` or `<state>.<parameter>` of that parameter's shape; no other member."""
    check_kind(path, meta, KIND, VERSION, "pass best.npz or last.npz of a run made by this drivenet")
    check_header(path, meta)
    try:
        shapes = parameter_shapes(meta["architecture"])
    except ValueError as err:
        raise DrivenetError(
            f"{path}: corrupt model metadata (architecture: {err}); retrain the model"
        ) from None
    for name, (shape, dtype) in members.items():
        group, _, key = name.partition("/")
        state, _, parameter = key.partition(".")
        if group + "/" == NET_PREFIX and key in shapes:
            wanted = shapes[key]
        elif group + "/" == OPTIMIZER_PREFIX and key == "steps":
            wanted = ()
        elif group + "/" == OPTIMIZER_PREFIX and parameter in shapes and state.isidentifier():
            wanted = shapes[parameter]
        else:
            raise DrivenetError(
                f"{path}: holds an array {name!r} that its architecture does not declare; the file is "
                "corrupt or not a drivenet model: retrain or re-save it"
            )
        if shape != wanted or dtype.kind not in ("f" if group + "/" == NET_PREFIX else "fiu"):
            raise DrivenetError(
                f"{path}: {name} is a {list(shape)} {dtype} array, but its architecture declares "
                f"{list(wanted)} numbers; the weights do not fit it: the file is corrupt"
            )
    missing = sorted(NET_PREFIX + key for key in shapes if NET_PREFIX + key not in members)
    if missing:
        raise DrivenetError(f"{path}: {missing[0]} is missing; the weights do not fit its architecture")


def parameter_shapes(architecture: Any) -> dict[str, tuple[int, ...]]:
    """Each parameter's shape as an architecture spec (`Network.spec`) declares it, named as `Network`
    names them (`dense0.weight`: (n_in, n_out), `conv0.weight`: (k, k, C, F), biases (n_out,) or (F,)),
    read from the spec alone; ValueError for a malformed spec or more than MAX_PARAMETERS in all."""
    layers = architecture.get("layers") if isinstance(architecture, dict) else None
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise ValueError("expected a table with a list of layer tables")
    shapes: dict[str, tuple[int, ...]] = {}
    counts = {"dense": 0, "conv": 0}
    for i, layer in enumerate(layers):
        if layer.get("kind") == "dense":
            kind, weight = "dense", (_size(layer, "n_in", i), _size(layer, "n_out", i))
        elif layer.get("kind") == "conv2d":
            kernel, channels, filters = (_size(layer, key, i) for key in ("kernel", "channels", "filters"))
            kind, weight = "conv", (kernel, kernel, channels, filters)
        else:
            continue
        name, counts[kind] = f"{kind}{counts[kind]}", counts[kind] + 1
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = weight, weight[-1:]
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_PARAMETERS:
        raise ValueError(f"{total} parameters, more than the {MAX_PARAMETERS} a drivenet model may have")
    return shapes


def _size(layer: dict[str, Any], key: str, index: int) -> int:
    """A layer's whole-number size `key`, at least 1 and at most MAX_PARAMETERS."""
    value = layer.get(key)
    if type(value) is not int or not 1 <= value <= MAX_PARAMETERS:
        raise ValueError(f"layer {index} {key} = {value!r}: expected a whole number in [1, {MAX_PARAMETERS}]")
    return value


def check_header(path: str | Path, meta: dict[str, Any]) -> None:
    """Refuse header values of the wrong type or range, each checked by the config rule of the key it
    came from (`data.motion_gaps`, `model.targets`, `model.outputs`...), the saved config as a whole, and
    `frame_size` ([width, height], whole numbers up to MAX_FRAME_SIDE)."""
    values: dict[str, dict[str, Any]] = {"data": {}, "model": {}}
    for key, section in (("motion_gaps", "data"), ("targets", "model"), ("mirror_average", "model")):
        if key in meta:
            values[section][key] = meta[key]
    encoding = meta.get("encoding")
    if isinstance(encoding, dict) and encoding.get("name") == "bump":
        values["model"]["outputs"] = encoding.get("units")
    size = meta.get("frame_size")
    if not isinstance(meta.get("optimizer", {}), dict | None):
        raise DrivenetError(f"{path}: corrupt model metadata (optimizer is not a table); retrain the model")
    try:
        RunConfig().updated(values, f"{path}: corrupt model metadata")
        if "config" in meta:
            if not isinstance(meta["config"], dict):
                raise DrivenetError(f"{path}: corrupt model metadata (config is not a table)")
            RunConfig.from_dict(meta["config"], f"{path}: the model's saved config")
    except DrivenetError as err:
        raise DrivenetError(f"{err}; retrain or re-save the model") from None
    if size is not None and not (
        isinstance(size, list)
        and len(size) == 2
        and all(type(n) is int and 1 <= n <= MAX_FRAME_SIDE for n in size)
    ):
        raise DrivenetError(
            f"{path}: corrupt model metadata (frame_size = {json.dumps(size)}: expected [width, height] in "
            f"pixels, whole numbers from 1 to {MAX_FRAME_SIDE}); retrain or re-save the model"
        )


def saved_mirror_average(meta: dict[str, Any]) -> bool:
    """`model.mirror_average` of the saved config, for checkpoints written before the header had it."""
    config = meta.get("config")
    model = config.get("model") if isinstance(config, dict) else None
    return bool(model.get("mirror_average", False)) if isinstance(model, dict) else False
