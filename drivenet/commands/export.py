"""Command `export`: a model as one ONNX file that steers from raw camera frames with onnxruntime alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.errors import cli_errors


def export(
    model: Annotated[Path, typer.Argument(help="A model checkpoint (best.npz or last.npz of a run).")],
    out: Annotated[Path, typer.Option("--out", help="The ONNX file to write, e.g. model.onnx.")],
    input_: Annotated[
        str,
        typer.Option(
            "--input", help="frame: raw uint8 RGB camera frames | preprocessed: preprocessed images."
        ),
    ] = "frame",
    size: Annotated[
        str | None,
        typer.Option("--size", help="Camera frame size WIDTHxHEIGHT (default: that of its training frames)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the model as an ONNX graph (opset 13, IR 7): preprocessing, network and decoding inside."""
    from drivenet.export import require

    require("onnx", "drivenet export")
    from drivenet.export.onnx_graph import IR_VERSION, OPSET, export_model, save_onnx
    from drivenet.model.checkpoint import load_model
    from drivenet.roads.synth import parse_size

    steering_model = load_model(model)
    steering_model.network("drivenet export")
    frame_size = steering_model.frame_size
    if size is not None:
        camera = parse_size(size)
        frame_size = (camera.width, camera.height)
    proto = export_model(steering_model, input_, frame_size)
    save_onnx(proto, out, force)
    graph = proto.graph
    shapes = {
        value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        for value in [*graph.input, *graph.output]
    }
    reads = ", ".join(f"{value.name} {shapes[value.name]}" for value in graph.input)
    gives = ", ".join(value.name for value in graph.output)
    typer.echo(f"wrote {out} (opset {OPSET}, IR version {IR_VERSION}, checked): reads {reads}; gives {gives}")


def register(app: typer.Typer) -> None:
    """Add `export` to the CLI."""
    app.command()(cli_errors(export))
