"""drivenet: learn, see and use backpropagation on a self-driving task."""

__version__ = "0.1.0"
