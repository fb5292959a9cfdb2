"""A vectorized numpy neural network with hand-written backward passes (no autodiff)."""

from drivenet.nn.conv import Conv2D, Flatten, MaxPool2D
from drivenet.nn.layers import ELU, Dense, Dropout, Layer, Parameter, ReLU, Sigmoid, Tanh, make_activation
from drivenet.nn.losses import MSELoss, SoftmaxCrossEntropy
from drivenet.nn.network import MLP, Network, layer_from_spec
from drivenet.nn.optim import SGD, Adam, Optimizer

__all__ = [
    "ELU",
    "MLP",
    "SGD",
    "Adam",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MSELoss",
    "MaxPool2D",
    "Network",
    "Optimizer",
    "Parameter",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "layer_from_spec",
    "make_activation",
]
