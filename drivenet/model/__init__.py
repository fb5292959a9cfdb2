"""The steering model: a network, its output encoding and preprocessing, and its checkpoint file."""

from drivenet.model.encoding import BumpEncoding, ClassEncoding, Encoding, ScalarEncoding, encoding_from_spec

__all__ = ["BumpEncoding", "ClassEncoding", "Encoding", "ScalarEncoding", "encoding_from_spec"]
