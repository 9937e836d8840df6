"""Export a model bundle for other runtimes: ONNX (onnxruntime, any language) or a torch.export program (.pt2).

TorchScript is not offered: PyTorch 2.14 deprecates ``torch.jit.trace`` and ``torch.jit.script`` in favour of
``torch.export``, whose program a ``.pt2`` file holds. The exported graph takes a float32 batch of shape
(batch, channels, H, W) at the grid the model was trained on (or ``input_size``); the batch size is free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nmkit.atomic import atomic_path
from nmkit.errors import InputError

FORMATS = {"onnx": ".onnx", "pt2": ".pt2"}
DEFAULT_SIZE = 128


def input_shape(model: nn.Module, info: dict[str, Any], input_size: tuple[int, int] | None = None,
                ) -> tuple[int, int, int]:
    """(channels, H, W) of one input: channels from the first convolution, the grid from the training config."""
    conv = next((m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))), None)
    if conv is None:
        raise InputError("model", "has no convolution to take its input channels from")
    if input_size is None:
        data = (info.get("config") or {}).get("data") or {}
        size = data.get("size") or (data.get("phantom") or {}).get("size") or DEFAULT_SIZE
        input_size = (int(size), int(size))
    return conv.in_channels, int(input_size[0]), int(input_size[1])


def export_model(model: nn.Module, info: dict[str, Any], out: str | Path, fmt: str | None = None,
                 input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """Write ``model`` to ``out`` as ONNX or a torch.export program; return what was written.

    ``fmt`` defaults to the suffix of ``out``. The input is named ``image`` and the output(s) ``output``.
    """
    out = Path(out)
    fmt = fmt or next((name for name, suffix in FORMATS.items() if out.suffix == suffix), None)
    if fmt not in FORMATS:
        raise InputError(out, f"export format must be one of {', '.join(FORMATS)} (or a name ending "
                              f"{' or '.join(FORMATS.values())})")
    shape = input_shape(model, info, input_size)
    example = torch.zeros((2, *shape), dtype=torch.float32)
    batch = {0: torch.export.Dim("batch", min=1, max=1024)}
    model = model.eval()
    with atomic_path(out) as tmp:
        if fmt == "onnx":
            program = torch.onnx.export(model, (example,), dynamo=True, input_names=["image"],
                                        output_names=["output"], dynamic_shapes=(batch,), verbose=False)
            program.save(str(tmp))
        else:
            program = torch.export.export(model, (example,), dynamic_shapes=(batch,))
            torch.export.save(program, str(tmp))
    return {"path": str(out), "format": fmt, "input_shape": ["batch", *shape],
            "model_name": info.get("model_name")}


__all__ = ["FORMATS", "export_model", "input_shape"]
