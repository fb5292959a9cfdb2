"""A vectorized numpy neural network with hand-written backward passes (no autodiff)."""

from drivenet.nn.encoding import BumpEncoding, ClassEncoding, Encoding, ScalarEncoding, encoding_from_spec
from drivenet.nn.layers import Dense, Layer, Parameter, ReLU, Sigmoid, Tanh, make_activation
from drivenet.nn.losses import MSELoss, SoftmaxCrossEntropy
from drivenet.nn.network import MLP
from drivenet.nn.optim import SGD, Adam, Optimizer

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "BumpEncoding",
    "ClassEncoding",
    "Dense",
    "Encoding",
    "Layer",
    "MSELoss",
    "Optimizer",
    "Parameter",
    "ReLU",
    "ScalarEncoding",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "encoding_from_spec",
    "make_activation",
]
