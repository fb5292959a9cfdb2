"""The teaching pieces: the scalar engine, the worked backprop example and gradient checks."""
