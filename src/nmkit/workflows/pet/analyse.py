"""Predict a delayed-phase SUV volume from an early one, slice by slice, keeping the input's geometry."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nmkit.errors import InputError
from nmkit.io import Image, read_nifti
from nmkit.io.image import as_image
from nmkit.io.pet import read_pet_suv, write_suv_nifti
from nmkit.models import as_model, load_model, shipped_model
from nmkit.workflows.pet.data import BODY_SUV, SUV_SCALE

DEFAULT_MODEL = "pet-default.pt"
MIN_IN_PLANE = 32  # voxels per slice side (the phantoms' smallest matrix; clinical PET has 128 or more)


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
        image = read_pet_suv(source)
    if min(image.shape[1:]) < MIN_IN_PLANE:
        raise InputError(source, f"the volume is {' x '.join(map(str, image.shape))} voxels; a PET prediction needs "
                                 f"at least {MIN_IN_PLANE} x {MIN_IN_PLANE} voxels in each slice")
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


def predict_file(source: str | Path, out: str | Path, model: nn.Module) -> dict[str, Any]:
    """Predict the delayed volume of ``source`` and write it as NIfTI at ``out`` with the input's geometry."""
    return predict_early(load_early(source), source, out, model)[0]


def predict_early(image: Image, source: str | Path, out: str | Path,
                  model: nn.Module) -> tuple[dict[str, Any], np.ndarray]:
    """:func:`predict_file` on an early volume already loaded: its result and the predicted volume."""
    delayed = predict_volume(model, image.array)
    affine = image.metadata.get("affine")  # a NIfTI's own, or the DICOM series' position and orientation
    spacing = (image.slice_spacing or 1.0, *image.pixel_spacing)
    write_suv_nifti(out, delayed, spacing, affine=None if affine is None else np.asarray(affine),
                    description="PT SUVbw predicted delayed")
    return {"input": str(source), "output": str(out), "shape": list(delayed.shape),
            "spacing_mm": [float(s) for s in spacing], "early_suv_max": float(image.array.max()),
            "predicted_suv_max": float(delayed.max()), "predicted_suv_mean_body": float(
                delayed[image.array > BODY_SUV].mean())}, delayed


@dataclass
class DelayedPETResult:
    """The numbers of one prediction (SUVbw), as ``nmkit pet predict --json`` gives them."""

    shape: list[int]
    spacing_mm: list[float]
    early_suv_max: float
    predicted_suv_max: float
    predicted_suv_mean_body: float
    model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DelayedPET:
    """The delayed (42-63 min) FDG volume predicted from an early one, in the shape pylinac users know::

        pet = DelayedPET("early_series/").analyze()          # or a NIfTI path, an Image, or an SUV array
        print(pet.results()); pet.plot_analyzed_image("mip.png"); pet.save("delayed.nii.gz")
        pet.delayed                                          # the predicted SUVbw volume (slices, H, W)

    A numpy array is taken as SUVbw of shape (slices, H, W) with ``pixel_mm`` and ``slice_mm``.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, pixel_mm: float | None = None,
                 slice_mm: float | None = None):
        if isinstance(source, np.ndarray):
            image = as_image(source, pixel_mm)
            image.slice_spacing, image.modality = slice_mm, "PT"
        else:
            image = source if isinstance(source, Image) else load_early(source)
        if image.n_frames < 2:
            raise InputError(image.path, "is one slice; the PET prediction takes a volume of slices")
        self.image = image
        self.delayed: np.ndarray | None = None
        self._result: DelayedPETResult | None = None

    def analyze(self, model: Any = None) -> DelayedPET:
        """Predict the delayed volume with ``model``: a bundle path, a shipped name, a loaded bundle or None
        (the shipped generator)."""
        generator, info = as_model(model, None, load_pet_model)
        self.delayed = predict_volume(generator, self.image.array)
        early = self.image.array
        self._result = DelayedPETResult(
            list(self.delayed.shape), [float(self.image.slice_spacing or 1.0), *map(float, self.image.pixel_spacing)],
            float(early.max()), float(self.delayed.max()), float(self.delayed[early > BODY_SUV].mean()),
            info.get("model_name"))
        return self

    def results_data(self) -> DelayedPETResult:
        if self._result is None:
            raise RuntimeError("call analyze() first")
        return self._result

    def results(self) -> str:
        r = self.results_data()
        return (f"predicted delayed FDG PET {'x'.join(map(str, r.shape))}: SUVmax {r.predicted_suv_max:.2f} "
                f"(early {r.early_suv_max:.2f}), body SUVmean {r.predicted_suv_mean_body:.2f}")

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """Coronal maximum-intensity projections of the early and the predicted delayed volume."""
        from nmkit.report.figures import image_row_figure

        self.results_data()
        vmax = max(float(np.percentile(self.image.array, 99.9)), float(np.percentile(self.delayed, 99.9)), 1.0)
        image_row_figure({"early (input)": self.image.array.max(axis=1),
                          "predicted delayed": self.delayed.max(axis=1)},
                         path, "coronal maximum-intensity projections", "SUVbw", vmax=vmax)
        return Path(path)

    def save(self, path: str | Path) -> Path:
        """The predicted volume as NIfTI (SUVbw) with the early scan's geometry."""
        self.results_data()
        affine = self.image.metadata.get("affine")
        write_suv_nifti(path, self.delayed, (self.image.slice_spacing or 1.0, *self.image.pixel_spacing),
                        affine=None if affine is None else np.asarray(affine), description="PT SUVbw predicted delayed")
        return Path(path)
