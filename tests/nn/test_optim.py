"""Optimizers: the update rules, weight decay, in-place updates and exact resume from a state dict."""

import numpy as np
import pytest

from drivenet.nn import MLP, SGD, Adam, MSELoss, Parameter


def parameter(value, grad):
    p = Parameter("w", np.array(value, dtype=np.float64))
    p.grad[...] = grad
    return p


def test_sgd_momentum_and_weight_decay_follow_the_update_rule():
    p = parameter([1.0, -2.0], [0.5, 0.5])
    optimizer = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    values = p.value  # updated in place
    optimizer.step()
    g1 = np.array([0.5, 0.5]) + 0.01 * np.array([1.0, -2.0])
    expected = np.array([1.0, -2.0]) - 0.1 * g1
    np.testing.assert_allclose(p.value, expected, rtol=1e-12)
    optimizer.step()
    velocity = 0.9 * g1 + (0.5 + 0.01 * expected)
    np.testing.assert_allclose(values, expected - 0.1 * velocity, rtol=1e-12)


def test_adam_first_steps_move_each_weight_by_about_lr():
    p = parameter([0.0, 0.0, 0.0], [1e-3, -5.0, 200.0])
    optimizer = Adam([p], lr=0.01)
    optimizer.step()
    np.testing.assert_allclose(p.value, [-0.01, 0.01, -0.01], rtol=1e-4)  # m/sqrt(v) = sign(g) at t = 1
    optimizer.step()
    np.testing.assert_allclose(p.value, [-0.02, 0.02, -0.02], rtol=1e-4)  # same gradient again


def test_zero_grad_and_mutable_learning_rate():
    p = parameter([1.0], [2.0])
    optimizer = SGD([p], lr=0.1)
    optimizer.lr = 0.5
    optimizer.step()
    assert p.value[0] == pytest.approx(0.0)
    optimizer.zero_grad()
    assert p.grad[0] == 0


def train(net, optimizer, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, target = rng.normal(size=(8, 4)), rng.uniform(size=(8, 2))
        _, grad = MSELoss()(net.forward(x), target)
        net.backward(grad)
        optimizer.step()


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3), Adam])
def test_state_dict_resumes_exactly(make):
    straight = MLP.build([4, 5, 2], seed=0, dtype=np.float64)
    optimizer = make(straight.parameters())
    train(straight, optimizer, 5, seed=1)
    saved_weights, saved_state = straight.state_dict(), optimizer.state_dict()
    train(straight, optimizer, 5, seed=2)

    resumed = MLP.build([4, 5, 2], seed=99, dtype=np.float64)
    resumed.load_state_dict(saved_weights)
    resumed_optimizer = make(resumed.parameters())
    resumed_optimizer.load_state_dict(saved_state)
    assert resumed_optimizer.steps == 5
    train(resumed, resumed_optimizer, 5, seed=2)
    for name, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value)


def test_optimizer_state_mismatch_is_refused():
    state = Adam(MLP.build([4, 5, 2]).parameters()).state_dict()
    with pytest.raises(ValueError, match="missing.*velocity"):
        SGD(MLP.build([4, 5, 2]).parameters(), lr=0.1, momentum=0.9).load_state_dict(state)
    with pytest.raises(ValueError, match=r"m.dense0.weight.*\(4, 5\)"):
        Adam(MLP.build([4, 3, 2]).parameters()).load_state_dict(state)
