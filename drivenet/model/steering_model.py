"""The steering model: a network between its preprocessing (raw frame -> inputs) and its steering
encoding (outputs -> steering), with the frame history a motion model reads.

`drivenet.model.checkpoint` writes it to disk and reads it back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from drivenet.config import RunConfig
from drivenet.data.dataset import clips
from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.model.encoding import Encoding, encoding_for
from drivenet.model.targets import TargetHeads
from drivenet.nn import Network


class Controls(NamedTuple):
    """What a model commands for one frame: steering in [-1, 1], and throttle and brake in [0, 1] when
    they are among its targets (else None)."""

    steering: float
    throttle: float | None
    brake: float | None


@dataclass
class SteeringModel:
    """A network plus the two maps around it: preprocessing in front, target decoding behind.

    With `motion_gaps` (g_1, ..., g_m) the network reads clips: each frame with the frames g_j earlier.
    A network with convolutions reads each clip as an image (H, W, (1 + m) * C) (`Preprocess.as_images`),
    one of dense layers only as the flat vector of `Preprocess.to_inputs`. `meta` holds the run's config,
    `frame_size` and what `save_model` was given (epoch, training state...). `targets` is steering,
    then the pedals it also predicts, each on one output unit after the encoding's (`TargetHeads`).
    """

    net: Network
    encoding: Encoding
    preprocess: Preprocess
    meta: dict[str, Any] = field(default_factory=dict)
    motion_gaps: tuple[int, ...] = ()
    mirror_average: bool = False  # steer (f(x) - f(mirror x)) / 2, see `read`
    targets: tuple[str, ...] = ("steering",)

    @property
    def heads(self) -> TargetHeads:
        """Where each target sits among the network's outputs, its decoding and the combined loss."""
        return TargetHeads(self.encoding, self.targets)

    @property
    def pedals(self) -> tuple[str, ...]:
        """The targets after steering: throttle and brake, when the model predicts them."""
        return self.targets[1:]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(H, W, (1 + m) * C) of one clip (of one image when there are no motion gaps)."""
        height, width, channels = self.preprocess.shape
        return (height, width, channels * (1 + len(self.motion_gaps)))

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the raw camera frames it was trained on; None when not recorded."""
        size = self.meta.get("frame_size")
        return None if size is None else (int(size[0]), int(size[1]))

    @property
    def reads_images(self) -> bool:
        """True when the network reads image-shaped inputs (it starts with convolutions)."""
        return len(self.net.input_shape) == 3

    @classmethod
    def build(cls, config: RunConfig, preprocess: Preprocess) -> SteeringModel:
        """A freshly initialised model: the network of `[model]` (seed `train.seed`) on clips of the
        frames `data.motion_gaps` back, the convolutions `model.conv` on (H, W, (1 + m) * C) images, or
        none on the flat H*W*(1 + m)*C inputs, then the hidden layers; `config` is kept in `meta`."""
        model, gaps = config.model, config.data.motion_gaps
        heads = TargetHeads(encoding_for(model, config.evaluate.straight_band), model.targets)
        height, width, channels = preprocess.shape
        image = (height, width, channels * (1 + len(gaps)))
        try:
            net = Network.build(
                image if model.conv else (int(np.prod(image)),),
                conv=[asdict(layer) for layer in model.conv],
                hidden=model.hidden,
                outputs=heads.n_outputs,
                activation=model.activation,
                output_activation=heads.encoding.output_activation,
                init=model.init,
                dtype=np.dtype(model.dtype),
                seed=config.train.seed,
                dropout=model.dropout,
            )
        except ValueError as err:  # left by the checked config: an image shrunk away, or too big a net
            raise DrivenetError(
                f"{err}; change model.conv (fewer or smaller layers or pools), model.hidden, or the image "
                "size (data.width, data.height)"
            ) from None
        meta = {"config": config.to_dict(), "epoch": 0}
        return cls(net, heads.encoding, preprocess, meta, gaps, model.mirror_average, heads.names)

    # ---- inference -------------------------------------------------------------------------------

    def images_from_frames(self, frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Raw RGB camera frames (each uint8 (h, w, 3), any size) -> preprocessed uint8 (N, H, W, C)."""
        return np.stack([self.preprocess.apply_array(np.asarray(f, dtype=np.uint8)) for f in frames])

    def clips(self, images: np.ndarray) -> np.ndarray:
        """Preprocessed images of consecutive frames (N, H, W, C) -> the clips the network reads, each
        image with the ones `motion_gaps` before it in the sequence (the first image standing in for
        frames before the sequence began)."""
        images = np.asarray(images)
        earlier = np.maximum(np.arange(len(images))[:, None] - np.array(self.motion_gaps, np.int64), 0)
        return clips(images, np.arange(len(images)), earlier)

    def arrange(self, inputs: np.ndarray) -> np.ndarray:
        """Flat inputs of `Preprocess.to_inputs` (N, D) as the network reads them: images for a
        convolutional network, else unchanged."""
        return self.preprocess.as_images(inputs) if self.reads_images else inputs

    def outputs(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Raw output activations for preprocessed clips uint8 (N, H, W, (1 + m) * C) (images when the
        model has no motion gaps), computed in batches in eval mode (no dropout)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != self.input_shape:
            raise DrivenetError(
                f"images of shape {images.shape[1:]} given, but this model expects "
                f"{self.input_shape} (H, W, C); preprocess them with the model's own settings"
            )
        chunks = [
            self.net.predict(self.arrange(self.preprocess.to_inputs(images[i : i + batch_size])))
            for i in range(0, len(images), batch_size)
        ]
        if not chunks:
            return np.zeros((0, self.heads.n_outputs), dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def read(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw output activations, of every target, and steering float32 (N,) in [-1, 1]) for clips.

        With `model.mirror_average` the steering is s(x) = (f(x) - f(m(x))) / 2, f the decoded network
        steering and m the left-right mirror of the clip: the model and its mirror image (trained with
        flips, it has learnt both) averaged, so s(m(x)) = -s(x) exactly and the two halves' errors
        partly cancel. The activations are those of x itself.
        """
        heads = self.heads
        outputs = self.outputs(images)
        steering = np.asarray(self.encoding.decode(heads.steering_outputs(outputs)), dtype=np.float32)
        if self.mirror_average:
            mirrored = self.encoding.decode(
                heads.steering_outputs(self.outputs(np.asarray(images)[:, :, ::-1]))
            )
            steering = ((steering - np.asarray(mirrored, dtype=np.float32)) / 2).astype(np.float32)
        return outputs, steering

    def steer_inputs(self, images: np.ndarray) -> np.ndarray:
        """Steering float32 (N,) in [-1, 1] for preprocessed (cached) clips, as `outputs` takes them."""
        return self.read(images)[1]

    def predict_targets(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Every target's prediction, float32 (N,) each, for preprocessed clips: steering as `read` gives
        it (mirror-averaged when the model is), each pedal from the clips themselves, clipped to [0, 1]."""
        outputs, steering = self.read(images)
        return {"steering": steering, **self.heads.decode_pedals(outputs)}

    def steer_frames(self, frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Steering float32 (N,) for consecutive raw RGB camera frames: the model's own preprocessing is
        applied, and a motion model reads each frame with the ones before it in `frames`."""
        return self.steer_inputs(self.clips(self.images_from_frames(frames)))

    def driver(self) -> Callable[[np.ndarray], float]:
        """A steering function for a live camera, called once per raw RGB frame.

        It remembers the last max(motion_gaps) frames, so a motion model sees the same clips in
        closed loop as in training (the first frame standing in for those before it).
        """
        control = self.controller()
        return lambda frame: control(frame).steering

    def controller(self) -> Callable[[np.ndarray], Controls]:
        """Like `driver`, but each raw RGB frame gets all the model's `Controls`: steering, and throttle
        and brake (None for a pedal the model does not predict), as a car whose pedals it works needs."""
        stream = ClipStream(self)

        def control(frame: np.ndarray) -> Controls:
            predicted = self.predict_targets(stream.clips(self.images_from_frames([frame])))
            values = {name: float(value[0]) for name, value in predicted.items()}
            return Controls(values["steering"], values.get("throttle"), values.get("brake"))

        return control

    def network(self, purpose: str) -> Network:
        """The one network this model runs, for what reads its weights (`purpose`, named in errors)."""
        return self.net

    @property
    def config(self) -> RunConfig:
        """The run's resolved config, completed with today's defaults for keys it predates."""
        return RunConfig.from_dict(self.meta.get("config", {}), "the model's saved config")

    def check_images(self, preprocess: Preprocess, source: str | Path) -> None:
        """Refuse images preprocessed with other settings than this model was trained on."""
        if preprocess != self.preprocess:
            raise DrivenetError(
                f"{source}: made with preprocessing {preprocess.to_dict()}, but the model expects "
                f"{self.preprocess.to_dict()}; pass the recording folder instead or re-run "
                "`drivenet preprocess` with the model's config"
            )


class ClipStream:
    """Clips of a stream of consecutive preprocessed images, given a few at a time: it remembers the
    last max(motion_gaps) images, so each clip is the one `SteeringModel.clips` makes of the whole stream."""

    def __init__(self, model: SteeringModel) -> None:
        self.model = model
        self.reach = max(model.motion_gaps, default=0)
        self.recent = np.zeros((0, *model.preprocess.shape), dtype=np.uint8)

    def clips(self, images: np.ndarray) -> np.ndarray:
        """The clips of the next images uint8 (n, H, W, C) of the stream."""
        stream = np.concatenate([self.recent, images])
        self.recent = stream[max(len(stream) - self.reach, 0) :]
        return self.model.clips(stream)[len(stream) - len(images) :]
