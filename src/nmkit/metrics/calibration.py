"""Calibrated probabilities: temperature scaling (Guo et al., ICML 2017), expected calibration error and the
reliability diagram's bins.

A classifier's logits are divided by one temperature T fitted on a validation set by minimising the negative
log-likelihood; T > 1 softens an over-confident model and never changes its predicted class. The bundle keeps T
(``info["temperature"]``) and :func:`nmkit.models.load_bundle` applies it with :func:`set_temperature`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from scipy.optimize import brentq, minimize_scalar
from scipy.special import log_softmax, softmax
from torch import nn
from torchmetrics.functional.classification import multiclass_calibration_error

N_BINS = 15
_HOOK = "_nmkit_temperature_hook"


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean NLL of ``labels`` (N,) under softmax(logits / T) for logits (N, C)."""
    log_p = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-log_p[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float | None:
    """The temperature in [0.05, 20] that minimises the NLL of ``labels`` on a validation set's ``logits``; None
    when every example is already classified right (the NLL then keeps falling as T -> 0: no finite optimum, and
    sharpening without limit is not calibration)."""
    if len(labels) == 0:
        raise ValueError("fitting a temperature needs at least one labelled example")
    if np.all(np.argmax(logits, axis=1) == np.asarray(labels)):
        return None
    found = minimize_scalar(lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
                            bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def mean_confidence(logits: np.ndarray, temperature: float = 1.0) -> float:
    """The mean top-label probability of softmax(logits / T)."""
    return float(softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1).max(axis=1).mean())


def succession_temperature(logits: np.ndarray) -> float:
    """For a validation set the model classifies all right (where :func:`fit_temperature` has no optimum): the
    temperature in [0.05, 20] at which its mean confidence is (n + 1) / (n + 2), Laplace's rule-of-succession
    estimate of an accuracy seen as n right of n: as sure as those n examples show it to be, no surer."""
    n = len(logits)
    if n == 0:
        raise ValueError("fitting a temperature needs at least one labelled example")
    gap = lambda log_t: mean_confidence(logits, float(np.exp(log_t))) - (n + 1) / (n + 2)  # noqa: E731
    low, high = np.log(0.05), np.log(20.0)
    if gap(low) <= 0 or gap(high) >= 0:  # the bounds' confidence is already too low / still too high
        return 0.05 if gap(low) <= 0 else 20.0
    return float(np.exp(brentq(gap, low, high, xtol=1e-6)))


def as_class_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """(N, C) probabilities; a binary classifier's P(positive) of shape (N,) becomes (N, 2)."""
    p = np.asarray(probabilities, dtype=np.float64)
    return np.stack([1 - p, p], axis=1) if p.ndim == 1 else p


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """Top-label ECE: the count-weighted mean |accuracy - confidence| over ``n_bins`` equal-width confidence bins
    (torchmetrics). ``probabilities`` is (N, C), or (N,) for P(positive) of a binary classifier."""
    p = as_class_probabilities(probabilities)
    return float(multiclass_calibration_error(torch.from_numpy(p).float(), torch.from_numpy(np.asarray(labels)).long(),
                                              num_classes=p.shape[1], n_bins=n_bins, norm="l1"))


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> list[dict[str, float]]:
    """The reliability diagram: for each non-empty confidence bin, its range, mean confidence, accuracy and size."""
    p = as_class_probabilities(probabilities)
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    return [{"low": round(float(edges[b]), 4), "high": round(float(edges[b + 1]), 4),
             "confidence": round(float(confidence[which == b].mean()), 4),
             "accuracy": round(float(correct[which == b].mean()), 4), "n": int((which == b).sum())}
            for b in range(n_bins) if (which == b).any()]


def set_temperature(model: nn.Module, temperature: float) -> nn.Module:
    """Divide ``model``'s output (its logits) by ``temperature`` from now on (a forward hook, so the weights and
    the state dict stay as trained); T = 1 removes the scaling. Returns the model."""
    previous = getattr(model, _HOOK, None)
    if previous is not None:
        previous.remove()
        delattr(model, _HOOK)
    if float(temperature) != 1.0:
        t = float(temperature)
        object.__setattr__(model, _HOOK, model.register_forward_hook(lambda module, inputs, output: output / t))
    return model


@contextmanager
def recorded_logits(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Inside the block, every output of ``model`` (after any temperature) is appended to the yielded list."""
    outputs: list[torch.Tensor] = []
    handle = model.register_forward_hook(lambda module, inputs, output: outputs.append(output.detach().cpu()))
    try:
        yield outputs
    finally:
        handle.remove()
