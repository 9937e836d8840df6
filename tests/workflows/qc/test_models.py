"""Every QC model: forward, backward, any input size, count-level invariance of the normalisation."""

from __future__ import annotations

import pytest
import torch

from nmkit.models import create_model
from nmkit.workflows.qc.models import FloodNormalise

SMALL = {"qc-resnet18": {}, "qc-compact": {"width": 4, "stages": 3}}


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("shape", [(64, 64), (45, 61)])
def test_forward_any_size_gives_two_logits(name, shape):
    model = create_model(name, **SMALL[name]).eval()
    with torch.no_grad():
        out = model(torch.poisson(torch.full((2, 1, *shape), 98.0)))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_backward_reaches_every_parameter(name):
    model = create_model(name, **SMALL[name])
    loss = model(torch.poisson(torch.full((2, 1, 48, 40), 98.0))).sum()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_normalise_gives_unit_z_scores_and_zero_outside_fov():
    torch.manual_seed(0)
    counts = torch.poisson(torch.full((1, 1, 128, 128), 400.0))
    counts[..., :, :20] = 0  # dead band outside the field of view
    z = FloodNormalise(edge=3)(counts)
    inside = z[..., 3:-3, 23:-3]
    assert abs(inside.mean().item()) < 0.05
    assert abs(inside.std().item() - 1.0) < 0.05
    assert torch.all(inside != 0)
    # Outside, the 3-pixel rim at the field edge, and the rim where the field meets the image border.
    assert torch.all(z[..., :, :23] == 0) and torch.all(z[..., :3, :] == 0) and torch.all(z[..., :, -3:] == 0)


def test_normalise_ignores_a_gain_on_the_counts():
    """A camera that stores 2 x counts has the same statistics after normalisation."""
    torch.manual_seed(1)
    counts = torch.poisson(torch.full((1, 1, 64, 64), 300.0))
    counts[..., 20:30, 20:30] *= 0.9
    assert torch.allclose(FloodNormalise()(counts), FloodNormalise()(2 * counts), atol=1e-5)


def test_normalise_sigma_is_poisson_for_counts():
    torch.manual_seed(2)
    for level in (50.0, 800.0):
        counts = torch.poisson(torch.full((1, 1, 96, 96), level))
        z = FloodNormalise(edge=0)(counts)
        assert abs(z.std().item() - 1.0) < 0.05
