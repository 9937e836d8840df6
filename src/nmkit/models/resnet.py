"""torchvision ResNets adapted to any number of input channels and classes, built offline."""

from __future__ import annotations

import torchvision
from torch import nn

_RESNETS = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34, 50: torchvision.models.resnet50}


def resnet_classifier(depth: int = 18, in_chans: int = 1, num_classes: int = 2) -> nn.Module:
    """A torchvision ResNet with ``in_chans`` input channels and a ``num_classes`` head.

    Never downloads: ``weights=None``. The first convolution is replaced when ``in_chans != 3``;
    adaptive average pooling makes any input size (>= 32 px) work.
    """
    model = _RESNETS[depth](weights=None, num_classes=num_classes)
    if in_chans != 3:
        model.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model
