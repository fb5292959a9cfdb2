"""Steering encodings: targets, sub-unit decoding of the bump, classes, specs."""

import numpy as np
import pytest

from drivenet.errors import DrivenetError
from drivenet.model import BumpEncoding, ClassEncoding, ScalarEncoding, encoding_from_spec


def test_bump_units_span_the_steering_range():
    bump = BumpEncoding(units=45)
    assert bump.unit_of(-1.0) == 0 and bump.unit_of(1.0) == 44 and bump.unit_of(0.0) == 22
    assert bump.unit_of(-1 + 2 * 10 / 44) == pytest.approx(10)


def test_bump_target_is_a_gaussian_centred_on_the_steering():
    bump = BumpEncoding(units=45)
    target = bump.encode(np.array([0.1]))[0]
    d = bump.unit_of(0.1)
    assert target.dtype == np.float32 and target.shape == (45,)
    assert np.argmax(target) == round(d)
    assert target[30] == pytest.approx(np.exp(-((30 - d) ** 2) / 10), rel=1e-6)


def test_bump_decodes_between_units():
    bump = BumpEncoding(units=45)
    steering = np.random.default_rng(0).uniform(-1, 1, size=200)
    decoded = bump.decode(bump.encode(steering))
    assert decoded.dtype == np.float32
    unit_error = np.abs(bump.unit_of(decoded) - bump.unit_of(steering))
    assert unit_error.max() < 1e-3  # a plain argmax is off by up to half a unit
    argmax_error = np.abs(np.argmax(bump.encode(steering), axis=1) - bump.unit_of(steering))
    assert argmax_error.max() > 0.3


def test_bump_decoding_tolerates_noise_and_a_distant_spike():
    bump = BumpEncoding(units=45)
    steering = np.linspace(-0.9, 0.9, 50)
    rng = np.random.default_rng(1)
    outputs = np.clip(bump.encode(steering) + rng.normal(0, 0.03, size=(50, 45)), 0, 1)
    far_end = np.where(steering < 0, 44, 0)
    outputs[np.arange(50), far_end] = 0.95  # one stray unit far from the bump
    unit_error = np.abs(bump.unit_of(bump.decode(outputs)) - bump.unit_of(steering))
    assert unit_error.max() < 0.5
    near_bump = np.where(np.arange(45) == far_end[:, None], 0.0, outputs)
    argmax_error = np.abs(np.argmax(near_bump, axis=1) - bump.unit_of(steering))
    assert unit_error.mean() < argmax_error.mean() / 2


def test_bump_decodes_the_ends_of_the_range():
    bump = BumpEncoding(units=9)
    np.testing.assert_allclose(bump.decode(bump.encode(np.array([-1.0, 1.0]))), [-1.0, 1.0], atol=1e-6)


def test_the_bump_decode_gradient_is_the_derivative_of_the_decoded_steering():
    bump = BumpEncoding(units=15)
    rng = np.random.default_rng(2)
    steering = rng.uniform(-0.8, 0.8, size=6)
    outputs = np.clip(bump.encode(steering) + rng.normal(0, 0.02, size=(6, 15)), 0.01, 1).astype(np.float64)
    value, grad = bump.decode_gradient(outputs)
    np.testing.assert_allclose(value, bump.decode(outputs), atol=1e-6)
    step, numeric = 1e-6, np.zeros_like(outputs)
    for unit in range(15):
        moved = np.zeros_like(outputs)
        moved[:, unit] = step
        up, down = (bump.decode_gradient(outputs + sign * moved)[0] for sign in (1, -1))
        numeric[:, unit] = (up - down) / (2 * step)
    assert np.abs(grad).max() > 0.01  # the fitted units move the steering
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


def test_classes_split_at_the_straight_band_and_decode_to_the_magnitude():
    classes = ClassEncoding(straight_band=0.1, magnitude=0.4)
    np.testing.assert_array_equal(classes.encode(np.array([-0.5, -0.1, 0.0, 0.1, 0.11])), [0, 1, 1, 1, 2])
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 1.0, 5.0]])
    np.testing.assert_allclose(classes.decode(logits), [-0.4, 0.0, 0.4])


def test_scalar_is_the_steering_itself_clipped_on_decode():
    scalar = ScalarEncoding()
    assert scalar.encode(np.array([0.25, -1.0])).tolist() == [[0.25], [-1.0]]
    np.testing.assert_allclose(scalar.decode(np.array([[0.3], [1.7]])), [0.3, 1.0])
    assert scalar.output_activation == "tanh" and ScalarEncoding(None).output_activation is None


@pytest.mark.parametrize("encoding", [ScalarEncoding(None), BumpEncoding(units=31), ClassEncoding(0.2, 0.7)])
def test_spec_rebuilds_the_same_encoding(encoding):
    copy = encoding_from_spec(encoding.spec())
    assert type(copy) is type(encoding) and copy.spec() == encoding.spec()
    assert copy.n_outputs == encoding.n_outputs and copy.output_activation == encoding.output_activation


def test_unknown_encoding_is_a_user_error():
    with pytest.raises(DrivenetError, match="model.encoding"):
        encoding_from_spec({"name": "angles"})
    with pytest.raises(DrivenetError, match="bump"):
        encoding_from_spec({"name": "bump", "units": 2})


@pytest.mark.parametrize("magnitude", [0.0, -0.2, 1.5])
def test_classes_decode_inside_the_steering_range(magnitude):
    with pytest.raises(ValueError, match="magnitude"):
        ClassEncoding(0.05, magnitude)
