"""Losses: `loss(pred, target) -> (value, dL/dpred)`, the value averaged over the batch."""

from __future__ import annotations

import numpy as np


class MSELoss:
    """Mean squared error over all n entries: L = sum((p - t)^2) / n,  dL/dp = 2 (p - t) / n."""

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        target = np.asarray(target, dtype=pred.dtype).reshape(pred.shape)
        diff = pred - target
        value = float(np.vdot(diff, diff)) / diff.size
        diff *= 2.0 / diff.size
        return value, diff


class SoftmaxCrossEntropy:
    """Softmax over the logits z, then the mean negative log-probability of each row's target class.

    log softmax(z)_k = z_k - m - log(sum_j e^(z_j - m)) with m = max_j z_j (stable: no overflow).
    L = -mean_n log softmax(z_n)_(t_n),   dL/dz = (softmax(z) - onehot(t)) / N.
    """

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        target = np.asarray(target)
        if target.shape != pred.shape[:1] or not np.issubdtype(target.dtype, np.integer):
            raise ValueError(f"targets must be {len(pred)} class indices, got {target.dtype} {target.shape}")
        rows = np.arange(len(pred))
        shifted = pred - pred.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        value = -float(log_probs[rows, target].mean())
        grad = np.exp(log_probs)
        grad[rows, target] -= 1.0
        grad /= len(pred)
        return value, grad
