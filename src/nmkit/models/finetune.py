"""Fine-tuning: start a model from a shipped model, an nmkit bundle or a local torchvision/timm/smp file, and
freeze its encoder.

Names are matched after stripping the wrappers' prefixes (``module.`` of DataParallel, ``model.`` of Lightning
and timm, ``net.`` of nmkit's wrappers, ``encoder.`` / ``backbone.`` of smp and torchvision) from both sides, so
an ImageNet ResNet file fits the encoder of an smp U-Net and a bundle's ``net.*`` fits the bare network.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from nmkit.errors import InputError
from nmkit.models.bundle import resolve_model_path
from nmkit.models.weights import read_state_dict

PREFIXES = ("module.", "model.", "net.", "encoder.", "backbone.")
ENCODER_NAMES = ("encoder", "backbone")


def canonical(key: str) -> str:
    """A parameter name without the wrappers' prefixes anywhere on its path (``net.encoder.model.conv1.weight``
    -> ``conv1.weight``)."""
    parts = [p for p in key.split(".") if f"{p}." not in PREFIXES]
    return ".".join(parts)


def init_from(model: nn.Module, source: str | Path) -> tuple[int, int]:
    """Copy every tensor of ``source`` (a shipped model's name, a bundle or a local weights file) whose canonical
    name and shape fit ``model``; (loaded, tensors in the model). InputError when the file is missing or nothing
    fits."""
    path = resolve_model_path(source)
    own = model.state_dict()
    targets: dict[str, str] = {}
    for key in own:
        targets.setdefault(canonical(key), key)
    fitting = {}
    for key, tensor in read_state_dict(path).items():
        target = targets.get(canonical(key))
        if target is not None and target not in fitting and own[target].shape == tensor.shape:
            fitting[target] = tensor
    if not fitting:
        raise InputError(path, "holds no weights that fit this model (names and shapes differ)")
    model.load_state_dict(fitting, strict=False)
    return len(fitting), len(own)


def freeze(model: nn.Module, part: str) -> int:
    """Stop training ``part`` of ``model`` ("encoder": the submodule named encoder or backbone, else everything
    but the last Linear layer, the classifier head); returns how many parameter tensors were frozen."""
    if part != "encoder":
        raise InputError("model.freeze", f"must be 'encoder', not {part!r}")
    encoder = next((m for name, m in model.named_modules() if name.split(".")[-1] in ENCODER_NAMES), None)
    if encoder is None:
        heads = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not heads:
            raise InputError("model.freeze", f"{type(model).__name__} has no encoder or classifier head to tell apart")
        keep = {id(p) for p in heads[-1].parameters()}
        frozen = [p for p in model.parameters() if id(p) not in keep]
    else:
        frozen = list(encoder.parameters())
    for parameter in frozen:
        parameter.requires_grad_(False)
    return len(frozen)
