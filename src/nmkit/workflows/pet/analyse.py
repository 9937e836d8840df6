"""Predict a delayed-phase SUV volume from an early one, slice by slice, keeping the input's geometry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nmkit.errors import InputError
from nmkit.io import Image, read_nifti
from nmkit.io.pet import read_pet_suv, write_suv_nifti
from nmkit.metrics.ood import domain_check
from nmkit.models import load_model, shipped_model
from nmkit.workflows.pet.data import BODY_SUV, SUV_SCALE
from nmkit.workflows.pet.gate import admit_source, implausible

DEFAULT_MODEL = "pet-default.pt"


def default_model_path() -> Path:
    """The small phantom-trained pix2pix generator shipped inside the package (see its MODEL_CARD.md)."""
    return shipped_model("nmkit.workflows.pet", DEFAULT_MODEL)


def load_pet_model(path: str | Path | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """A generator bundle (from `nmkit train` with a pet config), or the shipped default generator."""
    model, info = load_model(path or None, default_model_path(), "PET", "python benchmarks/pet.py --install")
    if not info.get("model_name", "").startswith("pet-"):
        raise InputError(path, f"holds {info.get('model_name')!r}, not a PET generator (pet-unet-generator)")
    return model, info


def load_early(source: str | Path) -> Image:
    """An early PET volume in SUVbw: a NIfTI file (taken as SUV), or DICOM PT slices (a file or a folder)."""
    source = Path(source)
    if not source.exists():
        raise InputError(source, "file not found")
    if source.is_file() and source.name.lower().endswith((".nii", ".nii.gz")):
        image = read_nifti(source)
        if image.modality not in ("PT", "OT"):
            raise InputError(source, f"is a {image.modality} image, not PET")
    else:
        admit_source(source)  # what the file is, in the gates' words, before SUV needs PT tags
        image = read_pet_suv(source)
    if not np.any(image.array > BODY_SUV):
        raise InputError(source, f"the volume is empty (no voxel above SUV {BODY_SUV})")
    return image


@torch.no_grad()
def predict_volume(model: nn.Module, early: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """The delayed SUV volume (slices, H, W) a generator predicts from ``early`` (same shape, SUV >= 0).

    Slices are zero-padded (air) to a multiple of 2^depth and cropped back.
    """
    model.eval()
    multiple = 2 ** getattr(model, "depth", 0)
    slices, height, width = early.shape
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    x = torch.from_numpy(np.ascontiguousarray(early, dtype=np.float32) / SUV_SCALE)[:, None]
    x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    device = next(model.parameters()).device
    out = torch.cat([model(x[i:i + batch_size].to(device)).cpu() for i in range(0, slices, batch_size)])
    out = out[:, 0, pad_h // 2:pad_h // 2 + height, pad_w // 2:pad_w // 2 + width]
    return (out.clamp(min=0) * SUV_SCALE).numpy().astype(np.float32)


def predict_file(source: str | Path, out: str | Path, model: nn.Module,
                 info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Predict the delayed volume of ``source`` and write it as NIfTI at ``out`` with the input's geometry."""
    return predict_early(load_early(source), source, out, model, info)[0]


def predict_early(image: Image, source: str | Path, out: str | Path, model: nn.Module,
                  info: dict[str, Any] | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """:func:`predict_file` on an early volume already loaded: its result and the predicted volume. The result
    says whether the input is in the model's domain (SUV plausibility; feature distance where the bundle
    ``info`` has an OOD fit)."""
    check, delayed = domain_check(model, info or {}, lambda: predict_volume(model, image.array))
    check.notes += implausible(image.array, delayed, BODY_SUV)
    affine = image.metadata.get("affine")  # a NIfTI's own, or the DICOM series' position and orientation
    spacing = (image.slice_spacing or 1.0, *image.pixel_spacing)
    write_suv_nifti(out, delayed, spacing, affine=None if affine is None else np.asarray(affine),
                    description="PT SUVbw predicted delayed")
    return {"input": str(source), "output": str(out), "shape": list(delayed.shape),
            "spacing_mm": [float(s) for s in spacing], "early_suv_max": float(image.array.max()),
            "predicted_suv_max": float(delayed.max()), "predicted_suv_mean_body": float(
                delayed[image.array > BODY_SUV].mean())} | check.as_dict(), delayed
