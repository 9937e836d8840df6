"""pix2pix and CycleGAN networks: one U-Net generator definition for both, and the 70 x 70 PatchGAN.

The generator works on SUV / :data:`nmkit.workflows.pet.data.SUV_SCALE` slices; its output is linear (SUV is
not bounded above, so pix2pix's tanh is left out). With ``residual`` it predicts the change from the input
(output = input + U-Net), its last layer zeroed so training starts from the identity baseline (delayed = early).
With ``nonnegative`` the output passes a ReLU, so training sees the non-negative SUV that inference gives.
Inputs must be divisible by 2^depth (the analysis pads).
"""

from __future__ import annotations

import torch
from torch import nn

from nmkit.models import register_model


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"norm must be 'batch' or 'instance', not {kind!r}")


class UNetGenerator(nn.Module):
    """The pix2pix U-Net: ``depth`` stride-2 4x4 conv downs (LeakyReLU 0.2) and transposed-conv ups (ReLU)
    with skip connections; channels ``base`` x (1, 2, 4, 8, 8, ...); dropout 0.5 in the 3 innermost ups;
    ``residual`` adds the input to the output (in and out channels equal) and starts as the identity;
    ``nonnegative`` ends in a ReLU."""

    def __init__(self, in_channels: int = 1, out_channels: int = 1, base: int = 64, depth: int = 7,
                 norm: str = "batch", dropout: float = 0.5, residual: bool = False, nonnegative: bool = False):
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be >= 2, not {depth}")
        if residual and in_channels != out_channels:
            raise ValueError("a residual generator needs as many output channels as input channels")
        self.depth = depth
        self.residual = residual
        self.nonnegative = nonnegative
        widths = [base * min(2**i, 8) for i in range(depth)]
        self.downs = nn.ModuleList()
        for i, width in enumerate(widths):
            c_in = in_channels if i == 0 else widths[i - 1]
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(c_in, width, 4, stride=2, padding=1, bias=False))
            if 0 < i < depth - 1:
                layers.append(_norm(norm, width))
            self.downs.append(nn.Sequential(*layers))
        self.ups = nn.ModuleList()
        for i in reversed(range(depth)):
            c_in = widths[i] if i == depth - 1 else widths[i] * 2
            c_out = out_channels if i == 0 else widths[i - 1]
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=i == 0)]
            if i > 0:
                layers.append(_norm(norm, c_out))
                if i >= depth - 3 and dropout > 0:
                    layers.append(nn.Dropout(dropout))
            self.ups.append(nn.Sequential(*layers))
        if residual:
            nn.init.zeros_(self.ups[-1][-1].weight)
            nn.init.zeros_(self.ups[-1][-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        out = x
        for down in self.downs:
            out = down(out)
            skips.append(out)
        out = self.ups[0](skips.pop())
        for up in self.ups[1:]:
            out = up(torch.cat([out, skips.pop()], dim=1))
        out = x + out if self.residual else out
        return torch.relu(out) if self.nonnegative else out


class PatchDiscriminator(nn.Module):
    """The pix2pix PatchGAN: with ``layers`` = 3 each output logit sees a 70 x 70 patch of the input."""

    def __init__(self, in_channels: int = 2, base: int = 64, layers: int = 3, norm: str = "batch"):
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(in_channels, base, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        width = base
        for i in range(1, layers + 1):
            c_out = base * min(2**i, 8)
            stride = 2 if i < layers else 1
            blocks += [nn.Conv2d(width, c_out, 4, stride=stride, padding=1, bias=False), _norm(norm, c_out),
                       nn.LeakyReLU(0.2)]
            width = c_out
        blocks.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def receptive_field(layers: int = 3) -> int:
    """Receptive field (pixels) of one PatchGAN output: 70 for 3 layers."""
    field = 1
    strides = [2] * layers + [1, 1]
    for stride in reversed(strides):
        field = (field - 1) * stride + 4
    return field


@register_model("pet-unet-generator")
def pet_unet_generator(base: int = 64, depth: int = 7, norm: str = "batch", dropout: float = 0.5,
                       residual: bool = False, nonnegative: bool = False) -> nn.Module:
    """The generator shared by pix2pix and CycleGAN (early SUV slice -> delayed); base 64, depth 7 for 128 px
    as the study's pix2pix; a CPU-sized variant is e.g. base 16, depth 5; ``residual`` learns the change only;
    ``nonnegative`` ends in a ReLU."""
    return UNetGenerator(1, 1, base=base, depth=depth, norm=norm, dropout=dropout, residual=residual,
                         nonnegative=nonnegative)


@register_model("pet-patchgan")
def pet_patchgan(in_channels: int = 2, base: int = 64, layers: int = 3, norm: str = "batch") -> nn.Module:
    """The 70 x 70 PatchGAN: 2 input channels (early, delayed) for pix2pix, 1 for CycleGAN."""
    return PatchDiscriminator(in_channels, base=base, layers=layers, norm=norm)
