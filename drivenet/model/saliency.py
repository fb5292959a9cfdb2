"""Saliency maps: which pixels of a frame move a steering model's steering, from its own backward pass.

The chain from a clip's pixels p (its preprocessed images scaled to [0, 1], (H, W, (1 + m) C)) to the
steering S is: per-image standardisation x_j = (p_j - mean p_j) / (std p_j + EPS) of the frame (j = 0)
and each earlier frame, the network inputs [x_0, x_0 - x_1, ..., x_0 - x_m], the network, and the
steering decoding. Backward, with g = dS/d(inputs) from the network's own backward pass:

    dS/dx_0 = g_0 + sum_j g_j,   dS/dx_j = -g_j,
    dS/dp = (gx - mean(gx)) / z - c sum(gx c) / (z^2 D sigma),   c = p - mean p, z = sigma + EPS,

D the image's pixel count and gx = dS/dx of that image. S is the decoded steering: a scalar output's
value (its clip to [-1, 1] taken as the identity, so a saturated output still shows what pushes it);
the bump fit's peak (`BumpEncoding.decode_gradient`); for the classes encoding, whose argmax decoding
is flat, the expected steering magnitude (P(right) - P(left)) under the softmax. With mirror averaging
S(p) = (f(p) - f(mirror p)) / 2, and so dS/dp = (f'(p) - mirror f'(mirror p)) / 2.

A map is (H, W) per clip: the frame's map is its pixels' gradient, the motion map that of the earlier
frames' pixels (which the network reads only through the motion channels), each summed in absolute
value over the colour channels. Methods: grad (|dS/dp|), smoothgrad (|mean dS/dp| over SMOOTH_SAMPLES
noisy copies, Gaussian noise of SMOOTH_SPREAD x the clip's own range max p - min p, as Smilkov et al. 2017
advise), gradxinput (|(p - mean p) dS/dp|), occlusion (|S - S with a grey patch| averaged over the
patches that cover a pixel) and vbp (`drivenet.nn.visualbackprop`, convolutional models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivenet.data.transform import EPS, Preprocess
from drivenet.errors import DrivenetError
from drivenet.model.encoding import BumpEncoding, ClassEncoding, Encoding, ScalarEncoding
from drivenet.model.steering_model import SteeringModel
from drivenet.nn.visualbackprop import visual_backprop

METHODS = ("grad", "smoothgrad", "gradxinput", "occlusion", "vbp")
SMOOTH_SAMPLES, SMOOTH_SPREAD = 50, 0.15  # noisy copies; their noise's sigma over the clip's range
# occlusion's map cannot be sharper than its patch: a tenth of the width (3 pixels of a 32-wide view)
# tells a road edge from the field beside it, where 0.15 (5 pixels) smeared it 2 pixels either side
OCCLUSION_PATCH = 0.1  # the grey patch's side, as a share of the image's larger side (slid by half a side)


@dataclass(frozen=True)
class Saliency:
    """A method's maps float32 (N, H, W) over the model's input pixels: the frame's, and the motion
    channels' (None for a model without motion inputs, and for vbp, which has no channel resolution);
    and the steering float32 (N,) the model gives the clips."""

    method: str
    frame: np.ndarray
    motion: np.ndarray | None
    steering: np.ndarray

    def parts(self, k: int) -> list[tuple[str, np.ndarray]]:
        """("frame", map) and, when there is one, ("motion", map) of clip k."""
        maps = [("frame", self.frame[k])]
        return maps if self.motion is None else [*maps, ("motion", self.motion[k])]


def steering_value_and_gradient(encoding: Encoding, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The steering scalar S (N,) that saliency differentiates (see the module docstring) and dS/d outputs
    (N, n) of the encoding's output units."""
    y = np.asarray(outputs, dtype=np.float64)
    if isinstance(encoding, ScalarEncoding):
        return y[:, 0].copy(), np.ones_like(y)
    if isinstance(encoding, BumpEncoding):
        return encoding.decode_gradient(y)
    assert isinstance(encoding, ClassEncoding)
    e = np.exp(y - y.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    value = encoding.magnitude * (prob[:, 2] - prob[:, 0])
    # d P_k / d y_i = P_k (delta_ki - P_i)
    weights = np.array([-encoding.magnitude, 0.0, encoding.magnitude])
    return value, prob * (weights[None, :] - value[:, None])


def standardised(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows p (N, D) -> (x, c, sigma): x = c / (sigma + EPS), c = p - mean p, sigma = std p per row."""
    c = p - p.mean(axis=1, keepdims=True)
    sigma = np.sqrt((c * c).mean(axis=1, keepdims=True))
    return c / (sigma + EPS), c, sigma


def standardise_backward(gx: np.ndarray, c: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """dS/dp of rows from dS/dx (module docstring); sigma = 0 (a flat image) gives (gx - mean gx) / EPS."""
    z = sigma + EPS
    spread = np.where(
        sigma > 0, (gx * c).sum(axis=1, keepdims=True) / (z * z * c.shape[1] * np.maximum(sigma, 1e-30)), 0.0
    )
    return (gx - gx.mean(axis=1, keepdims=True)) / z - c * spread


def clip_pixels(model: SteeringModel, clips: np.ndarray) -> np.ndarray:
    """Preprocessed uint8 clips (N, H, W, (1 + m) C) as pixels in [0, 1], in the network's dtype."""
    clips = np.asarray(clips)
    if clips.ndim != 4 or clips.shape[1:] != model.input_shape:
        raise DrivenetError(
            f"clips of shape {clips.shape[1:]} given, but this model reads {model.input_shape} (H, W, C)"
        )
    return clips.astype(model.net.dtype) / model.net.dtype.type(255)


def one_sided_gradient(model: SteeringModel, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, dS/dp) of the network f alone (no mirror averaging) for pixels p (N, H, W, (1 + m) C)."""
    n, (h, w, c), frames = len(p), model.preprocess.shape, 1 + len(model.motion_gaps)
    blocks = p.reshape(n, h, w, frames, c).transpose(3, 0, 1, 2, 4).reshape(frames, n, h * w * c)
    parts = [standardised(block) for block in blocks]
    x = [part[0] for part in parts]
    inputs = np.concatenate([x[0], *(x[0] - earlier for earlier in x[1:])], axis=1)
    net = model.net
    mode = net.training
    net.eval()
    try:
        outputs = net.forward(model.arrange(inputs.astype(net.dtype)))
        value, d_steering = steering_value_and_gradient(model.encoding, model.heads.steering_outputs(outputs))
        d_outputs = np.zeros_like(outputs, dtype=np.float64)
        d_outputs[:, : model.encoding.n_outputs] = d_steering
        g = net.backward(d_outputs.astype(net.dtype), input_grad=True)
    finally:
        net.train(mode)
    assert g is not None
    if model.reads_images:  # channels [x_0, x_0 - x_1, ...] at each pixel (`Preprocess.as_images`)
        g = g.reshape(n, h, w, frames, c).transpose(3, 0, 1, 2, 4).reshape(frames, n, h * w * c)
    else:  # the flat blocks of `Preprocess.to_inputs`
        g = g.reshape(n, frames, h * w * c).transpose(1, 0, 2)
    gx = [g[0] + g[1:].sum(axis=0), *(-g[j] for j in range(1, frames))]
    dp = np.stack([standardise_backward(gx[j], parts[j][1], parts[j][2]) for j in range(frames)])
    return value, dp.reshape(frames, n, h, w, c).transpose(1, 2, 3, 0, 4).reshape(p.shape)


def steering_gradient(model: SteeringModel, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S (N,), dS/dp (N, H, W, (1 + m) C)) for clip pixels p in [0, 1]: the module docstring's chain,
    mirror averaging included."""
    p = np.asarray(p, dtype=model.net.dtype)
    value, grad = one_sided_gradient(model, p)
    if model.mirror_average:
        mirrored_value, mirrored_grad = one_sided_gradient(model, p[:, :, ::-1])
        value, grad = (value - mirrored_value) / 2, (grad - mirrored_grad[:, :, ::-1]) / 2
    return value, grad


def split_maps(model: SteeringModel, per_channel: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Non-negative per-channel values (N, H, W, (1 + m) C) -> (frame map, motion map or None), each
    summed over its channels."""
    c = model.preprocess.channels
    frame = per_channel[..., :c].sum(axis=3)
    motion = per_channel[..., c:].sum(axis=3) if model.motion_gaps else None
    return frame.astype(np.float32), None if motion is None else motion.astype(np.float32)


def explain_clips(model: SteeringModel, clips: np.ndarray, method: str = "grad", seed: int = 0) -> Saliency:
    """The `method`'s maps for preprocessed uint8 clips (N, H, W, (1 + m) C) (see the module docstring)."""
    check_method(model, method)
    p = clip_pixels(model, clips)
    steering = model.read(np.asarray(clips))[1]
    if method == "vbp":
        return Saliency(method, visual_backprop_map(model, np.asarray(clips)), None, steering)
    if method == "occlusion":
        return Saliency(method, *occlusion_maps(model, np.asarray(clips), steering), steering)
    if method == "smoothgrad":
        rng = np.random.default_rng(seed)
        sigma = SMOOTH_SPREAD * (p.max(axis=(1, 2, 3), keepdims=True) - p.min(axis=(1, 2, 3), keepdims=True))
        total = np.zeros_like(p, dtype=np.float64)
        for _ in range(SMOOTH_SAMPLES):
            noise = rng.standard_normal(p.shape).astype(p.dtype) * sigma
            total += steering_gradient(model, p + noise)[1]
        values = np.abs(total / SMOOTH_SAMPLES)
    else:
        grad = steering_gradient(model, p)[1]
        if method == "gradxinput":
            c = model.preprocess.channels
            frames = p.reshape(*p.shape[:3], -1, c)
            grad = grad * (frames - frames.mean(axis=(1, 2, 4), keepdims=True)).reshape(p.shape)
        values = np.abs(grad)
    return Saliency(method, *split_maps(model, values), steering)


def check_method(model: SteeringModel, method: str) -> None:
    """DrivenetError unless `method` is one of METHODS that the model supports (vbp: convolutions)."""
    if method not in METHODS:
        raise DrivenetError(f"unknown saliency method {method!r}; use one of {', '.join(METHODS)}")
    net = model.network("a saliency map")
    if method == "vbp" and not (model.reads_images and net.conv_layers):
        raise DrivenetError(
            "vbp needs a convolutional model (model.conv); use grad, smoothgrad, gradxinput or occlusion"
        )


def visual_backprop_map(model: SteeringModel, clips: np.ndarray) -> np.ndarray:
    """VisualBackProp (N, H, W) of the network's inputs for preprocessed clips; mirror averaging averages
    the map and the mirrored map of the mirrored clip."""

    def one_side(images: np.ndarray) -> np.ndarray:
        return visual_backprop(model.net, model.arrange(model.preprocess.to_inputs(images)))

    maps = one_side(clips)
    if model.mirror_average:
        maps = (maps + one_side(clips[:, :, ::-1])[:, :, ::-1]) / 2
    return maps.astype(np.float32)


def occlusion_maps(
    model: SteeringModel, clips: np.ndarray, steering: np.ndarray, patch: float = OCCLUSION_PATCH
) -> tuple[np.ndarray, np.ndarray | None]:
    """|S(clip) - S(clip with a patch greyed)| averaged over the patches covering each pixel, S the
    model's decoded steering. The frame's patch is filled with its mean grey; for the motion map the
    earlier frames take the current frame's pixels under the patch (no motion there)."""
    n, (h, w, c) = len(clips), model.preprocess.shape
    side = max(1, round(patch * max(h, w)))
    step = max(1, side // 2)
    tops = sorted({*range(0, max(h - side, 0) + 1, step), max(h - side, 0)})
    lefts = sorted({*range(0, max(w - side, 0) + 1, step), max(w - side, 0)})
    grey = clips[..., :c].mean(axis=(1, 2, 3), keepdims=True).astype(np.uint8)
    maps = [np.zeros((n, h, w)), np.zeros((n, h, w))]
    counts = np.zeros((h, w))
    for top in tops:
        for left in lefts:
            rows, cols = slice(top, top + side), slice(left, left + side)
            counts[rows, cols] += 1
            kinds = [0, 1] if model.motion_gaps else [0]
            for kind in kinds:
                covered = clips.copy()
                if kind == 0:
                    covered[:, rows, cols, :c] = grey
                else:
                    frame = covered[:, rows, cols, :c]
                    covered[:, rows, cols, c:] = np.tile(frame, (1, 1, 1, len(model.motion_gaps)))
                changed = np.abs(model.read(covered)[1] - steering)
                maps[kind][:, rows, cols] += changed[:, None, None]
    frame, motion = (m / np.maximum(counts, 1) for m in maps)
    return frame.astype(np.float32), motion.astype(np.float32) if model.motion_gaps else None


def on_frame(saliency_map: np.ndarray, preprocess: Preprocess, frame_shape: tuple[int, ...]) -> np.ndarray:
    """A map (H, W) over the model's input pixels laid over a raw frame of `frame_shape` (h, w, ...):
    resized (bilinear) onto the rows the crop keeps, 0 on the rows it cuts. float32 (h, w)."""
    from PIL import Image

    height, width = int(frame_shape[0]), int(frame_shape[1])
    top, bottom = preprocess.kept_rows(height)
    full = np.zeros((height, width), np.float32)
    if bottom > top:
        image = Image.fromarray(np.asarray(saliency_map, np.float32), "F")
        full[top:bottom] = np.asarray(image.resize((width, bottom - top), Image.Resampling.BILINEAR))
    return full
