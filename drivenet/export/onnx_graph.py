"""A steering model as one ONNX graph, built node by node with `onnx.helper`: raw camera frame in,
decoded steering (and pedals) out, so that a car needs onnxruntime and nothing else.

Input "frame" (the default): uint8 (N, h, w, 3) RGB frames of one fixed camera size. Inside the graph,
as `Preprocess.apply_array`: crop rows, Pillow's colour conversion and bilinear resize (exact, see
`pillow_maps`; each export checks it on a probe frame), giving output "image" uint8 (N, H, W, C); a
motion model also takes "earlier" uint8 (N, H, W, m C), the "image" outputs of the frames g_1..g_m back
(the caller keeps them). Input "preprocessed": "images" uint8 (N, H, W, (1 + m) C), the clips
`SteeringModel.outputs` reads.

Then `Preprocess.to_inputs` (x = (p - mean p) / (std p + EPS), p = pixels / 255, per frame; motion
x_0 - x_j), the network (convolutions NCHW, dense layers as Gemm), and the decoding of every target:
outputs "steering" float32 (N,) and "throttle", "brake" (N,) when the model predicts them. Mirror
averaging runs the network on the clip and its left-right mirror stacked on the batch axis.

Opset 13 and IR version 7: onnxruntime reads them from 1.6 on (2020), so a Raspberry Pi or Jetson with an
older runtime loads the file. The model's preprocessing and training config travel in its metadata
("drivenet.*" keys).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from drivenet import __version__
from drivenet.data.transform import EPS, Preprocess
from drivenet.errors import DrivenetError
from drivenet.export.pillow_maps import FRACTION_BITS, PILLOW_VERSION, ColourMap, resize_passes
from drivenet.io import atomic_write, check_output_file
from drivenet.model.encoding import FIT_REACH, BumpEncoding, ClassEncoding, Encoding
from drivenet.model.steering_model import SteeringModel
from drivenet.nn import ELU, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D, ReLU, Sigmoid, Tanh
from drivenet.nn.conv import conv_output_size

OPSET = 13
IR_VERSION = 7
INPUTS = ("frame", "preprocessed")
ACTIVATIONS: dict[type[Layer], str] = {Sigmoid: "Sigmoid", Tanh: "Tanh", ReLU: "Relu", ELU: "Elu"}
DOUBLE, FLOAT, INT64, UINT8 = TensorProto.DOUBLE, TensorProto.FLOAT, TensorProto.INT64, TensorProto.UINT8


class Graph:
    """The nodes and constants of a graph under construction; `op` adds a node and names its output."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []

    def const(self, value: Any, dtype: Any = np.float32) -> str:
        """A constant tensor (an initializer) holding `value`."""
        name = f"const{len(self.constants)}"
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ops(self, op_type: str, inputs: Sequence[str], outputs: int = 1, **attrs: Any) -> list[str]:
        """Add one node; the names of its `outputs` outputs."""
        k = len(self.nodes)
        names = [f"{op_type.lower()}{k}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=f"{op_type}{k}", **attrs))
        return names

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        """Add a node of one output; its name."""
        return self.ops(op_type, inputs, **attrs)[0]

    def ints(self, *values: int) -> str:
        """An int64 vector constant (axes, starts, shapes)."""
        return self.const(values, np.int64)

    def columns(self, x: str, start: int, stop: int) -> str:
        """x[:, start:stop]."""
        return self.op("Slice", x, self.ints(start), self.ints(stop), self.ints(1))


# ---- preprocessing: raw frame -> preprocessed image ------------------------------------------------


def frame_to_image(g: Graph, frame: str, preprocess: Preprocess, size: tuple[int, int]) -> str:
    """uint8 (N, h, w, 3) frames of `size` (w, h) -> uint8 (N, H, W, C), as `Preprocess.apply_array`:
    rows cropped, colour converted (per pixel, so it may follow the crop), then resized on uint8 planes
    (N C, h, w), each pass one integer matrix product (`resize_pass`)."""
    width, height = size
    top, bottom = preprocess.kept_rows(height)
    rows, columns = bottom - top, width
    cropped = g.op("Slice", frame, g.ints(top), g.ints(bottom), g.ints(1))
    if preprocess.color == "rgb":
        x = g.op("Transpose", cropped, perm=[0, 3, 1, 2])
    else:
        x = g.op("Cast", convert_colour(g, cropped, preprocess.color, rows, columns), to=UINT8)
    for axis, weights in resize_passes((width, rows), (preprocess.width, preprocess.height)):
        if axis == 1:
            x = resize_pass(g, g.op("Reshape", x, g.ints(-1, rows, columns)), weights, 1)
            rows = len(weights)
        else:
            x = resize_pass(g, g.op("Reshape", x, g.ints(-1, columns)), weights, 2)
            columns = len(weights)
    image = g.op("Reshape", x, g.ints(-1, preprocess.channels, rows, columns))
    return g.op("Transpose", image, perm=[0, 2, 3, 1])


def check_preprocessing(preprocess: Preprocess, size: tuple[int, int]) -> None:
    """Refuse a camera `size` (w, h) for which the graph's preprocessing is not the installed Pillow's:
    `frame_to_image`, run by onnx's reference evaluator on a random probe frame, must give
    `Preprocess.apply_array`'s image byte for byte."""
    g = Graph()
    image = frame_to_image(g, "frame", preprocess, size)
    frame = helper.make_tensor_value_info("frame", UINT8, [1, size[1], size[0], 3])
    proto = assemble(g, [frame], {"image": (image, UINT8, [1, *preprocess.shape])}, "the preprocessing probe")
    probe = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    found = ReferenceEvaluator(proto).run(None, {"frame": probe[None]})[0][0]
    if not np.array_equal(found, preprocess.apply_array(probe)):
        raise DrivenetError(
            f"--size {size[0]}x{size[1]}: the graph's preprocessing (crop, {preprocess.color}, resize to "
            f"{preprocess.width}x{preprocess.height}) differs from Pillow {PILLOW_VERSION}'s on a probe "
            "frame; export with --input preprocessed and preprocess frames with drivenet on the car"
        )


def resize_pass(g: Graph, x: str, weights: np.ndarray, axis: int) -> str:
    """One pass of `pillow_maps` on uint8 planes: height (axis 1), K (H, h) times planes (P, h, w), or
    width (axis 2), rows (R, w) times K^T, then y = min(floor((sum + 2^21) / 2^22), 255), as uint8.

    The weights (below 2^23, none negative) are split into bytes, K = 2^16 K_2 + 2^8 K_1 + K_0, so that
    each product is uint8 times uint8 in one MatMulInteger over the bytes side by side, summed exactly in
    int32 (at most 255^2 per term); the three sums are recombined in int32 (below 2^31)."""
    if weights.min() < 0 or weights.max() >= 2**23:
        raise DrivenetError("a resize weight outside [0, 2^23) (a negative lobe?) cannot be exported")
    parts = [(weights // 256**j % 256).astype(np.uint8) for j in (2, 1, 0)]
    if axis == 1:
        sums = g.ops("Split", [g.op("MatMulInteger", g.const(np.concatenate(parts), np.uint8), x)], 3, axis=1)
    else:
        stacked = g.const(np.concatenate([part.T for part in parts], axis=1), np.uint8)
        sums = g.ops("Split", [g.op("MatMulInteger", x, stacked)], 3, axis=1)
    total = g.op(
        "Add", g.op("Mul", sums[0], g.const(2**16, np.int32)), g.op("Mul", sums[1], g.const(256, np.int32))
    )
    rounded = g.op("Add", g.op("Add", total, sums[2]), g.const(2 ** (FRACTION_BITS - 1), np.int32))
    shifted = g.op("Div", rounded, g.const(2**FRACTION_BITS, np.int32))
    return g.op("Cast", g.op("Min", shifted, g.const(255, np.int32)), to=UINT8)


def convert_colour(g: Graph, rgb: str, color: str, rows: int, columns: int) -> str:
    """uint8 RGB (N, h, w, 3), h = `rows` and w = `columns` -> planes (N, C, h, w) converted as Pillow
    does (`ColourMap`), float32 or int32 holding whole numbers in [0, 255]."""
    colour = ColourMap(color)
    scale = 2**colour.shift
    if colour.weights is not None:  # linear: one product; every sum is an integer below 2^24, exact
        pixels = g.op("Reshape", g.op("Cast", rgb, to=FLOAT), g.ints(-1, 3))
        total = g.op("MatMul", pixels, g.const(colour.weights, np.float32))  # (N h w, 1)
        shape = g.ints(-1, 1, rows, columns)
        biased = g.op(
            "Add", g.op("Reshape", total, shape), g.const(colour.bias + colour.offset[0] * scale, np.float32)
        )
        return g.op("Floor", g.op("Div", biased, g.const(scale, np.float32)))
    # int32 table lookups, one per input channel, each (N, h, w, 1, C); the red table also holds the bias
    # and offset, so every sum is >= 0 and the integer division by 2^shift (which truncates) is the floor
    tables = colour.tables.copy()
    tables[0] += colour.bias + colour.offset * scale
    looked_up = [
        g.op("Gather", g.const(tables[c], np.int32), g.op("Cast", value, to=INT64))
        for c, value in enumerate(g.ops("Split", [rgb], outputs=3, axis=3))
    ]
    total = g.op("Add", g.op("Add", looked_up[0], looked_up[1]), looked_up[2])
    planes = g.op("Transpose", g.op("Squeeze", total, g.ints(3)), perm=[0, 3, 1, 2])
    return g.op("Div", planes, g.const(scale, np.int32))


# ---- network inputs and the network ------------------------------------------------------------------


def standardise(g: Graph, x: str) -> str:
    """(x - mean x) / (std x + EPS) over each image of float (B, H, W, C)."""
    mean = g.op("ReduceMean", x, axes=[1, 2, 3], keepdims=1)
    centred = g.op("Sub", x, mean)
    std = g.op("Sqrt", g.op("ReduceMean", g.op("Mul", centred, centred), axes=[1, 2, 3], keepdims=1))
    return g.op("Div", centred, g.op("Add", std, g.const(EPS)))


def network_inputs(g: Graph, clips: str, model: SteeringModel) -> str:
    """uint8 clips (B, H, W, k C) -> what the network reads, as `Preprocess.to_inputs` (then
    `as_images`): per frame standardised x_j; inputs [x_0, x_0 - x_1, ...], NCHW images for
    convolutions, else flat (B, k H W C) in HWC order per frame."""
    k = 1 + len(model.motion_gaps)
    pixels = g.op("Div", g.op("Cast", clips, to=FLOAT), g.const(255.0))
    frames = g.ops("Split", [pixels], outputs=k, axis=3) if k > 1 else [pixels]
    x = [standardise(g, frame) for frame in frames]
    parts = [x[0], *(g.op("Sub", x[0], earlier) for earlier in x[1:])]
    if model.reads_images:
        stacked = g.op("Concat", *parts, axis=3) if k > 1 else parts[0]
        return g.op("Transpose", stacked, perm=[0, 3, 1, 2])
    flat = [g.op("Reshape", part, g.ints(0, -1)) for part in parts]
    return g.op("Concat", *flat, axis=1) if k > 1 else flat[0]


def network(g: Graph, x: str, model: SteeringModel) -> str:
    """The network's layers on its inputs x (NCHW images or flat rows); dropout is left out (eval)."""
    net = model.net
    for layer, shape in zip(net.layers, net.shapes(), strict=False):
        if isinstance(layer, Conv2D):
            (_, top, bottom), (_, left, right) = (
                conv_output_size(size, layer.kernel, layer.stride, layer.padding) for size in shape[:2]
            )
            weight = g.const(layer.weight.value.transpose(3, 2, 0, 1))  # (k, k, C, F) -> (F, C, k, k)
            x = g.op(
                "Conv", x, weight, g.const(layer.bias.value),
                strides=[layer.stride] * 2, pads=[top, left, bottom, right],
            )  # fmt: skip
        elif isinstance(layer, MaxPool2D):
            x = g.op("MaxPool", x, kernel_shape=[layer.size] * 2, strides=[layer.size] * 2)
        elif isinstance(layer, Flatten):
            nhwc = g.op("Transpose", x, perm=[0, 2, 3, 1]) if len(shape) == 3 else x  # drivenet flattens HWC
            x = g.op("Flatten", nhwc, axis=1)
        elif isinstance(layer, Dense):
            x = g.op("Gemm", x, g.const(layer.weight.value), g.const(layer.bias.value))
        elif type(layer) in ACTIVATIONS:
            x = g.op(ACTIVATIONS[type(layer)], x, **({"alpha": 1.0} if isinstance(layer, ELU) else {}))
        elif not isinstance(layer, Dropout):
            raise DrivenetError(f"cannot export a {type(layer).__name__} layer to ONNX")
    return x


# ---- decoding ----------------------------------------------------------------------------------------


def decode_steering(g: Graph, outputs: str, encoding: Encoding) -> str:
    """float (B, n) steering units -> steering float32 (B,), as `encoding.decode`."""
    if isinstance(encoding, BumpEncoding):
        return decode_bump(g, outputs, encoding)
    if isinstance(encoding, ClassEncoding):
        index = g.op("Cast", g.op("ArgMax", outputs, axis=1, keepdims=0), to=FLOAT)
        return g.op("Mul", g.op("Sub", index, g.const(1.0)), g.const(encoding.magnitude))
    column = g.op("Reshape", g.columns(outputs, 0, 1), g.ints(-1))
    return g.op("Clip", column, g.const(-1.0), g.const(1.0))


def decode_bump(g: Graph, outputs: str, encoding: BumpEncoding) -> str:
    """`BumpEncoding.decode` in float64: best template c*, the log-parabola through the outputs at
    centre + k (k = -2..2, centre = c* kept 2 from the ends), vertex offset -b / 2a where the parabola
    opens down, position clipped to [c* - 1, c* + 1], steering = 2 position / (units - 1) - 1."""
    units = encoding.n_outputs
    y = g.op("Cast", outputs, to=DOUBLE)
    templates = encoding.templates  # the decoder's own unit-norm bumps, one per unit
    best = g.op("ArgMax", g.op("MatMul", y, g.const(templates.T, np.float64)), axis=1, keepdims=0)
    centre = g.op("Min", g.op("Max", best, g.ints(FIT_REACH)), g.ints(units - 1 - FIT_REACH))
    k = np.arange(-FIT_REACH, FIT_REACH + 1)
    index = g.op("Add", g.op("Unsqueeze", centre, g.ints(1)), g.ints(*k))
    logs = g.op("Log", g.op("Max", g.op("GatherElements", y, index, axis=1), g.const(1e-12, np.float64)))
    slope = g.op("Div", g.op("MatMul", logs, g.const(k, np.float64)), g.const(k @ k, np.float64))
    centred = k**2 - np.mean(k**2)
    curvature = g.op(
        "Div", g.op("MatMul", logs, g.const(centred, np.float64)), g.const(centred @ centred, np.float64)
    )
    vertex = g.op("Div", g.op("Neg", slope), g.op("Mul", g.const(2.0, np.float64), curvature))
    opens_down = g.op("Less", curvature, g.const(0.0, np.float64))
    offset = g.op("Where", opens_down, vertex, g.const(0.0, np.float64))
    low = g.op("Cast", g.op("Max", g.op("Sub", best, g.ints(1)), g.ints(0)), to=DOUBLE)
    high = g.op("Cast", g.op("Min", g.op("Add", best, g.ints(1)), g.ints(units - 1)), to=DOUBLE)
    position = g.op("Min", g.op("Max", g.op("Add", g.op("Cast", centre, to=DOUBLE), offset), low), high)
    scaled = g.op("Div", g.op("Mul", position, g.const(2.0, np.float64)), g.const(units - 1.0, np.float64))
    return g.op("Cast", g.op("Sub", scaled, g.const(1.0, np.float64)), to=FLOAT)


def targets(g: Graph, clips: str, model: SteeringModel) -> dict[str, str]:
    """Every target of the model for uint8 clips (N, H, W, k C), as `SteeringModel.predict_targets`."""
    heads, n = model.heads, model.encoding.n_outputs
    batch = clips
    if model.mirror_average:  # (f(x) - f(mirror x)) / 2: both halves in one batch of 2N
        mirror = g.op("Slice", clips, g.ints(-1), g.ints(np.iinfo(np.int64).min), g.ints(2), g.ints(-1))
        batch = g.op("Concat", clips, mirror, axis=0)
    outputs = network(g, network_inputs(g, batch, model), model)
    if model.mirror_average:
        outputs, mirrored = g.ops("Split", [outputs], outputs=2, axis=0)
        difference = g.op(
            "Sub",
            decode_steering(g, g.columns(outputs, 0, n), model.encoding),
            decode_steering(g, g.columns(mirrored, 0, n), model.encoding),
        )
        steering = g.op("Div", difference, g.const(2.0))
    else:
        steering = decode_steering(g, g.columns(outputs, 0, n), model.encoding)
    found = {"steering": steering}
    for j, name in enumerate(model.pedals):
        unit = g.op("Reshape", g.columns(outputs, n + j, n + j + 1), g.ints(-1))
        value = g.op("Div", g.op("Sub", unit, g.const(heads.lo)), g.const(heads.hi - heads.lo))
        found[name] = g.op("Clip", value, g.const(0.0), g.const(1.0))
    return found


# ---- the model file ----------------------------------------------------------------------------------


def export_model(
    model: SteeringModel, input_kind: str = "frame", frame_size: tuple[int, int] | None = None
) -> onnx.ModelProto:
    """The checked ONNX model of `model`; `frame_size` (w, h) is the camera's, needed for "frame" input."""
    if input_kind not in INPUTS:
        raise DrivenetError(f"--input {input_kind}: use one of {', '.join(INPUTS)}")
    g = Graph()
    height, width, channels = model.preprocess.shape
    earlier = channels * len(model.motion_gaps)
    inputs: list[onnx.ValueInfoProto] = []
    outputs: dict[str, tuple[str, int, list[Any]]] = {}
    if input_kind == "frame":
        if frame_size is None:
            raise DrivenetError("the model does not record its camera's frame size; pass --size WIDTHxHEIGHT")
        check_preprocessing(model.preprocess, frame_size)
        inputs.append(helper.make_tensor_value_info("frame", UINT8, ["N", frame_size[1], frame_size[0], 3]))
        image = frame_to_image(g, "frame", model.preprocess, frame_size)
        outputs["image"] = (image, UINT8, ["N", height, width, channels])
        clips = image
        if earlier:
            inputs.append(helper.make_tensor_value_info("earlier", UINT8, ["N", height, width, earlier]))
            clips = g.op("Concat", image, "earlier", axis=3)
    else:
        inputs.append(helper.make_tensor_value_info("images", UINT8, ["N", *model.input_shape]))
        clips = "images"
    found = targets(g, clips, model)
    named = {name: (value, FLOAT, ["N"]) for name, value in found.items()}
    proto = assemble(g, inputs, {**named, **outputs}, describe(model, input_kind, frame_size))
    helper.set_model_props(proto, metadata(model, input_kind, frame_size))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def assemble(
    g: Graph, inputs: list[onnx.ValueInfoProto], outputs: dict[str, tuple[str, int, list[Any]]], doc: str
) -> onnx.ModelProto:
    """The model of graph `g` reading `inputs`, each output by name (value, element type, shape) given by
    an Identity node, described by `doc`."""
    for name, (value, _, _) in outputs.items():
        g.nodes.append(helper.make_node("Identity", [value], [name], name=f"output_{name}"))
    graph = helper.make_graph(
        g.nodes,
        "drivenet_steering",
        inputs,
        [helper.make_tensor_value_info(name, kind, shape) for name, (_, kind, shape) in outputs.items()],
        initializer=g.constants,
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="drivenet",
        producer_version=__version__,
        doc_string=doc,
    )


def metadata(model: SteeringModel, input_kind: str, frame_size: tuple[int, int] | None) -> dict[str, str]:
    """The "drivenet.*" metadata: what the graph reads, the preprocessing and the training config."""
    values = {
        "input": input_kind,
        "frame_size": list(frame_size) if frame_size and input_kind == "frame" else None,
        "preprocess": model.preprocess.to_dict(),
        "motion_gaps": list(model.motion_gaps),
        "targets": list(model.targets),
        "encoding": model.encoding.spec(),
        "mirror_average": model.mirror_average,
        "config": model.meta.get("config"),
        "epoch": model.meta.get("epoch"),
    }
    return {f"drivenet.{key}": json.dumps(value) for key, value in values.items()}


def describe(model: SteeringModel, input_kind: str, frame_size: tuple[int, int] | None) -> str:
    """The model's doc string: its inputs and outputs in words."""
    height, width, channels = model.preprocess.shape
    gaps = list(model.motion_gaps)
    if input_kind == "frame" and frame_size is not None:
        reads = f"frame: uint8 RGB camera frames (N, {frame_size[1]}, {frame_size[0]}, 3)"
        if gaps:
            reads += f"; earlier: the image outputs of the frames {gaps} back, stacked on the last axis"
        gives = f"; image: the preprocessed frame uint8 (N, {height}, {width}, {channels})"
    else:
        reads, gives = f"images: preprocessed clips uint8 (N, {', '.join(map(str, model.input_shape))})", ""
    pedals = "".join(f", {name} in [0, 1]" for name in model.pedals)
    gives = f"steering in [-1, 1] (negative = left){pedals}{gives}"
    return f"drivenet steering model. Inputs {reads}. Outputs {gives}."


def save_onnx(proto: onnx.ModelProto, path: str | Path, force: bool) -> Path:
    """Write the model file atomically; an existing file only with `force`."""
    path = check_output_file(path, force)
    return atomic_write(path, lambda tmp: tmp.write_bytes(proto.SerializeToString()))
