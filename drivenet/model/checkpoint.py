"""The checkpoint file: a steering model on disk, network weights and JSON metadata in one `.npz`.

It carries everything needed to steer from a raw camera frame: the architecture spec, the encoding spec
(how output activations map to a steering value), the targets (steering, then the pedals it predicts;
a file without them predicts steering only), the preprocessing (crop, size, colour), the motion gaps and
the run's resolved config. `last.npz` also holds the optimizer state, for `--resume`. Loaded with
`allow_pickle=False` (`drivenet.io.load_npz`): a checkpoint is never unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from drivenet import __version__
from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.io import check_kind, load_npz, save_npz
from drivenet.model.encoding import encoding_from_spec
from drivenet.model.steering_model import SteeringModel
from drivenet.model.targets import TargetHeads
from drivenet.nn import Network

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
    """Read a checkpoint; DrivenetError for another format, version or shape, or a corrupt file."""
    return load_checkpoint(path)[0]


def load_checkpoint(path: str | Path) -> tuple[SteeringModel, dict[str, Any] | None]:
    """(model, optimizer state or None) from a checkpoint written by `save_model`."""
    path = Path(path)
    arrays, meta = load_npz(path)
    check_kind(path, meta, KIND, VERSION, "pass best.npz or last.npz of a run made by this drivenet")
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
    header = {
        "architecture",
        "encoding",
        "targets",
        "preprocess",
        "motion_gaps",
        "mirror_average",
        "optimizer",
    }
    model.meta = {k: v for k, v in meta.items() if k not in header}
    return model, optimizer_state


def saved_mirror_average(meta: dict[str, Any]) -> bool:
    """`model.mirror_average` of the saved config, for checkpoints written before the header had it."""
    config = meta.get("config")
    model = config.get("model") if isinstance(config, dict) else None
    return bool(model.get("mirror_average", False)) if isinstance(model, dict) else False
