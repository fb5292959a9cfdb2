"""The synthetic world: an ALVINN-style road renderer and the labelled recordings it makes."""

from drivenet.roads.renderer import Camera, Look, RoadRenderer
from drivenet.roads.synth import labelled_frames, render_set, write_recording
from drivenet.roads.view import ModelView

__all__ = ["Camera", "Look", "ModelView", "RoadRenderer", "labelled_frames", "render_set", "write_recording"]
