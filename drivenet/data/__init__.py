"""Real driving data: read recordings, preprocess them into a cache, split and augment for training."""

from drivenet.data.cache import SteeringCache, build_cache, load_or_build
from drivenet.data.dataset import SteeringDataset
from drivenet.data.frames import COLUMNS, Problem, ReadResult
from drivenet.data.readers import read_recordings
from drivenet.data.split import block_split
from drivenet.data.transform import Preprocess

__all__ = [
    "COLUMNS",
    "Preprocess",
    "Problem",
    "ReadResult",
    "SteeringCache",
    "SteeringDataset",
    "block_split",
    "build_cache",
    "load_or_build",
    "read_recordings",
]
