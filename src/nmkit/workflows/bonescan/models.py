"""Knee DJD grade classifiers: the plan's SimpleCNN (1-3 blocks), a compact CNN and a 1-channel ResNet18."""

from __future__ import annotations

import torch
from torch import nn

from nmkit.models.registry import register_model
from nmkit.models.resnet import resnet_classifier

NUM_GRADES = 5
SIMPLE_CHANNELS = (16, 32, 64)


class SimpleCNN(nn.Module):
    """The plan's network: ``blocks`` x (conv3x3-BN-ReLU-maxpool2) with 16, 32, 64 channels, then one linear layer.

    Two fixes to the plan's code: no ReLU after the last linear layer (it clipped the logits at zero), and
    the linear layer's size follows ``blocks`` and ``input_size`` (the plan hard-coded the 3-block size).
    """

    def __init__(self, blocks: int = 3, num_classes: int = NUM_GRADES, input_size: int = 128):
        super().__init__()
        if blocks not in (1, 2, 3):
            raise ValueError(f"blocks must be 1, 2 or 3, not {blocks}")
        if input_size % 2**blocks:
            raise ValueError(f"input_size must be a multiple of {2**blocks}, not {input_size}")
        layers: list[nn.Module] = []
        for c_in, c_out in zip((1, *SIMPLE_CHANNELS), SIMPLE_CHANNELS[:blocks]):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        side = input_size // 2**blocks
        self.classifier = nn.Linear(SIMPLE_CHANNELS[blocks - 1] * side * side, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class CompactKneeNet(nn.Module):
    """A CPU-sized grader (~0.1 M parameters): strided stem, three conv blocks, global mean and max pooling."""

    def __init__(self, num_classes: int = NUM_GRADES, width: int = 16):
        super().__init__()
        chans = (width, 2 * width, 4 * width, 4 * width)

        def block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                                 nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))

        self.features = nn.Sequential(
            nn.Conv2d(1, chans[0], 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(chans[0]), nn.ReLU(inplace=True),
            block(chans[0], chans[1], 2), block(chans[1], chans[1], 1),
            block(chans[1], chans[2], 2), block(chans[2], chans[2], 1),
            block(chans[2], chans[3], 2))
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(2 * chans[3], num_classes))

    def forward(self, x):
        z = self.features(x)
        return self.head(torch.cat([z.mean(dim=(2, 3)), z.amax(dim=(2, 3))], dim=1))


@register_model("bonescan-simplecnn-1")
def bonescan_simplecnn_1(num_classes: int = NUM_GRADES, input_size: int = 128) -> nn.Module:
    """The plan's SimpleCNN with one block (fixed as described in :class:`SimpleCNN`)."""
    return SimpleCNN(1, num_classes, input_size)


@register_model("bonescan-simplecnn-2")
def bonescan_simplecnn_2(num_classes: int = NUM_GRADES, input_size: int = 128) -> nn.Module:
    """The plan's SimpleCNN with two blocks."""
    return SimpleCNN(2, num_classes, input_size)


@register_model("bonescan-simplecnn-3")
def bonescan_simplecnn_3(num_classes: int = NUM_GRADES, input_size: int = 128) -> nn.Module:
    """The plan's SimpleCNN with three blocks (its default)."""
    return SimpleCNN(3, num_classes, input_size)


@register_model("bonescan-compact")
def bonescan_compact(num_classes: int = NUM_GRADES, width: int = 16) -> nn.Module:
    """nmkit's CPU-sized knee grader."""
    return CompactKneeNet(num_classes, width)


@register_model("bonescan-resnet18")
def bonescan_resnet18(num_classes: int = NUM_GRADES) -> nn.Module:
    """ResNet18 with a 1-channel input, trained from scratch (no downloaded weights)."""
    return resnet_classifier(18, in_chans=1, num_classes=num_classes)
