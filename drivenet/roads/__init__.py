"""Synthetic ALVINN-style roads: track, car, camera renderer, labelled recordings, closed-loop driving."""

from drivenet.roads.car import advance, pursuit_steering
from drivenet.roads.drive import ClosedLoop, DriveReport, autonomy, drive_track, model_steering
from drivenet.roads.renderer import Camera, Look, RoadRenderer
from drivenet.roads.synth import labelled_frames, render_set, write_recording
from drivenet.roads.track import Pose, Track, random_track
from drivenet.roads.view import ModelView

__all__ = [
    "Camera",
    "ClosedLoop",
    "DriveReport",
    "Look",
    "ModelView",
    "Pose",
    "RoadRenderer",
    "Track",
    "advance",
    "autonomy",
    "drive_track",
    "labelled_frames",
    "model_steering",
    "pursuit_steering",
    "random_track",
    "render_set",
    "write_recording",
]
