"""An ensemble: several checkpoints that read the same inputs, commanding the mean of what each decodes.

For a clip x and members f_1..f_K (each with its own decoding and mirror averaging), the steering is
s(x) = (1/K) Σ_k s_k(x) and each pedal p(x) = (1/K) Σ_k p_k(x): decoded values are averaged, not raw
activations, so members of other architectures (or encodings that decode alike) average as they steer.
The raw outputs (`outputs`, for views of the activations) are the members' mean.

An ensemble is a `SteeringModel`, so everything that loads a model takes one: `load_model` returns it for
an ensemble file. The file (`save_ensemble`) holds every member's weights and header under `member/<k>/`,
so it travels alone; its members must share the preprocessing, motion gaps, targets and encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivenet import __version__
from drivenet.errors import DrivenetError
from drivenet.io import check_kind, load_npz, save_npz
from drivenet.model.checkpoint import NET_PREFIX, load_checkpoint
from drivenet.model.steering_model import SteeringModel
from drivenet.nn import Network

KIND = "drivenet-ensemble"
VERSION = 1


def member_prefix(k: int) -> str:
    """Where member k's arrays sit in an ensemble file."""
    return f"member/{k}/"


@dataclass
class EnsembleModel(SteeringModel):
    """Members that read the same clips; `net`, `encoding` and the header fields are the first member's,
    `meta` its config and frame size with the members' mean training labels."""

    members: tuple[SteeringModel, ...] = ()

    @classmethod
    def of(
        cls, members: Sequence[SteeringModel], names: Sequence[str], sources: Sequence[str] | None = None
    ) -> EnsembleModel:
        """The ensemble of `members` (named by `names` in errors), made from the checkpoint files
        `sources` (`names` when not given); DrivenetError when one reads other inputs or gives other
        outputs than the first."""
        if len(members) < 2:
            raise DrivenetError(f"an ensemble needs at least 2 models, got {len(members)}; pass more")
        first = members[0]
        for name, member in zip(names[1:], members[1:], strict=True):
            for what, own, theirs in (
                ("preprocessing", member.preprocess.to_dict(), first.preprocess.to_dict()),
                ("motion gaps", list(member.motion_gaps), list(first.motion_gaps)),
                ("targets", list(member.targets), list(first.targets)),
                ("encoding", member.encoding.spec(), first.encoding.spec()),
            ):
                if own != theirs:
                    raise DrivenetError(
                        f"{name}: {what} {own} differs from {names[0]}'s {theirs}; an ensemble's models "
                        "must read the same inputs and give the same outputs: train them with one config"
                    )
        meta: dict[str, Any] = {key: first.meta[key] for key in ("config", "frame_size") if key in first.meta}
        for target in first.targets:
            means = [m.meta.get(f"train_mean_{target}") for m in members]
            if all(value is not None for value in means):
                meta[f"train_mean_{target}"] = float(np.mean(means))
        meta["sources"] = list(names if sources is None else sources)
        return cls(
            first.net, first.encoding, first.preprocess, meta, first.motion_gaps, False, first.targets,
            tuple(members),
        )  # fmt: skip

    def network(self, purpose: str) -> Network:
        """Refused: an ensemble has one network per member, and `purpose` reads one network's weights."""
        raise DrivenetError(
            f"{purpose} works on one network, and this model is an ensemble of {len(self.members)}; "
            f"pass one of the checkpoints it was made from ({', '.join(self.meta['sources'])})"
        )

    def outputs(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The members' mean raw output activations."""
        return np.mean([m.outputs(images, batch_size) for m in self.members], axis=0, dtype=np.float32)

    def predict_targets(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Each target's members' mean decoded prediction, float32 (N,)."""
        return self.mean_read(images)[1]

    def read(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outputs, steering) as `SteeringModel.read` gives them: the mean steering, and the members'
        mean activations whose pedal units are set to the mean pedals, so they decode to them."""
        outputs, predicted = self.mean_read(images)
        heads = self.heads
        for j, pedal in enumerate(self.pedals):
            outputs[:, heads.encoding.n_outputs + j] = heads.lo + predicted[pedal] * (heads.hi - heads.lo)
        return outputs, predicted["steering"]

    def mean_read(self, images: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The members' mean raw activations float32 (N, n) and each target's members' mean decoded
        prediction float32 (N,), each member run once on the clips."""
        activations, each = [], []
        for member in self.members:
            outputs, steering = member.read(images)
            activations.append(outputs)
            each.append({"steering": steering, **member.heads.decode_pedals(outputs)})
        mean = {name: np.mean([p[name] for p in each], axis=0, dtype=np.float32) for name in self.targets}
        return np.mean(activations, axis=0, dtype=np.float32), mean


def save_ensemble(paths: Sequence[str | Path], out: str | Path) -> Path:
    """Write the ensemble of the checkpoints `paths` into one file (weights and headers, no optimizer
    state), after checking that they fit together (`EnsembleModel.of`)."""
    names = [str(p) for p in paths]
    models = [load_checkpoint(p)[0] for p in paths]
    EnsembleModel.of(models, names)
    arrays: dict[str, np.ndarray] = {}
    headers = []
    for k, path in enumerate(paths):
        stored, header = load_npz(path)
        arrays.update({member_prefix(k) + n: a for n, a in stored.items() if n.startswith(NET_PREFIX)})
        headers.append({**header, "optimizer": None})
    meta = {"kind": KIND, "version": VERSION, "drivenet_version": __version__, "members": headers}
    return save_npz(out, arrays, {**meta, "sources": names})


def load_ensemble(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> EnsembleModel:
    """The ensemble stored in `path`, whose `arrays` and `meta` (`load_npz`) are already read."""
    check_kind(path, meta, KIND, VERSION, "re-create it with `drivenet ensemble`")
    headers = meta.get("members")
    if not isinstance(headers, list) or not all(isinstance(h, dict) for h in headers):
        raise DrivenetError(f"{path}: corrupt ensemble metadata (no member list); re-create it")
    members, names = [], []
    for k, header in enumerate(headers):
        prefix = member_prefix(k)
        own = {n[len(prefix) :]: a for n, a in arrays.items() if n.startswith(prefix)}
        names.append(f"{path} (member {k})")
        members.append(load_checkpoint(names[-1], (own, header))[0])
    sources = meta.get("sources")
    named = isinstance(sources, list) and len(sources) == len(names)
    if not (named and all(isinstance(source, str) for source in sources)):
        raise DrivenetError(f"{path}: corrupt ensemble metadata (no list of its sources); re-create it")
    return EnsembleModel.of(members, names, sources)
