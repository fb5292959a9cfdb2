"""Gymnasium's CarRacing-v3: a world drivenet did not build, and an expert that reads its privileged state.

`make_env` imports gymnasium only when called (the `gym` extra); `Expert` needs numpy only. `drive`
(rollout.py) scores a policy, the expert or a `ModelPilot` (pilot.py), by the env's own reward;
`record_episodes` (record.py) writes episodes as drivenet recordings labelled by the expert; `run_dagger`
and `learn` (dagger.py) train a model by behavioural cloning and DAgger rounds in a resumable run folder.
"""

from __future__ import annotations

from drivenet.drive.gym.dagger import DaggerFolder, RoundScore, learn, run_dagger
from drivenet.drive.gym.env import make_env
from drivenet.drive.gym.expert import CarState, Expert, car_state
from drivenet.drive.gym.pilot import ModelPilot
from drivenet.drive.gym.record import RecordedEpisode, RecordSummary, record_episodes
from drivenet.drive.gym.rollout import DriveReport, Episode, PolicySpec, Summary, drive, drive_episode

__all__ = [
    "CarState",
    "DaggerFolder",
    "DriveReport",
    "Episode",
    "Expert",
    "ModelPilot",
    "PolicySpec",
    "RecordSummary",
    "RecordedEpisode",
    "RoundScore",
    "Summary",
    "car_state",
    "drive",
    "drive_episode",
    "learn",
    "make_env",
    "record_episodes",
    "run_dagger",
]
