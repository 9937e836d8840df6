"""LV segmentation models: the study's DeepLabV3-ResNet50 and a CPU-sized U-Net; both take raw counts."""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from nmkit.models import register_model


class FrameNormalise(nn.Module):
    """Counts -> counts / (frame's 99.5th percentile), so any count level looks the same to the network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        scale = torch.quantile(x.flatten(1), 0.995, dim=1).clamp(min=1e-6)
        return x / scale.view(-1, 1, 1, 1)


class CountsSegmenter(nn.Module):
    """Normalise counts, optionally resample to ``work_size`` pixels, segment, and return logits at input size."""

    def __init__(self, net: nn.Module, work_size: int | None = None):
        super().__init__()
        self.normalise, self.net, self.work_size = FrameNormalise(), net, work_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        z = self.normalise(x)
        if self.work_size and tuple(size) != (self.work_size,) * 2:
            z = F.interpolate(z, size=(self.work_size,) * 2, mode="bilinear", align_corners=False, antialias=True)
        out = self.net(z)
        out = out["out"] if isinstance(out, dict) else out
        if out.shape[-2:] != size:
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        return out


@register_model("gbp-deeplabv3-r50")
def gbp_deeplabv3_r50(num_classes: int = 2) -> nn.Module:
    """The study's model: torchvision DeepLabV3 with a ResNet-50 backbone, no pretrained weights, 1 channel."""
    net = torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None,
                                                             num_classes=num_classes, aux_loss=False)
    net.backbone.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return CountsSegmenter(net)


@register_model("gbp-unet-small")
def gbp_unet_small(num_classes: int = 2, encoder: str = "tu-regnetx_002", depth: int = 4, work_size: int = 128,
                   decoder_width: int = 64) -> nn.Module:
    """A CPU-sized U-Net (segmentation-models-pytorch; RegNetX-200MF encoder, ~0.45 M parameters, random init)
    run at ``work_size`` pixels.

    The camera's native matrix is 64x64, so 128 px keeps every native pixel while the study's 256 px does not
    add information, only cost.
    """
    decoder = tuple(max(decoder_width >> i, 8) for i in range(depth))
    net = smp.Unet(encoder_name=encoder, encoder_weights=None, encoder_depth=depth, decoder_channels=decoder,
                   in_channels=1, classes=num_classes)
    return CountsSegmenter(net, work_size)
