"""The one image type every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nmkit.errors import InputError


@dataclass
class Image:
    """A study as float32 pixels of shape (frames or slices, H, W) with its geometry.

    ``pixel_spacing`` is (row, column) in mm; ``slice_spacing`` is the distance between
    slices in mm for volumes and None for planar frames. Counts stay counts.
    """

    array: np.ndarray
    pixel_spacing: tuple[float, float] = (1.0, 1.0)
    modality: str = "OT"
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    slice_spacing: float | None = None

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise InputError(self.path, f"expected a 2-D image or a stack of 2-D frames, got {arr.ndim} dimensions")
        self.array = np.ascontiguousarray(arr, dtype=np.float32)
        self.pixel_spacing = (float(self.pixel_spacing[0]), float(self.pixel_spacing[1]))

    @property
    def n_frames(self) -> int:
        return int(self.array.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)  # type: ignore[return-value]

    def plane(self) -> np.ndarray:
        """The single 2-D frame of a planar image; a clear error when there is more than one."""
        if self.n_frames != 1:
            raise InputError(self.path, f"expected a single 2-D image but found {self.n_frames} frames")
        return self.array[0]


@dataclass
class Header:
    """What a file says about its image before any pixel is decoded: enough to pick a workflow and to check
    the pixel cap. ``shape`` is (frames or slices, H, W) as the reader would return it."""

    format: str
    shape: tuple[int, int, int]
    modality: str = "OT"
    metadata: dict[str, Any] = field(default_factory=dict)


def as_image(source: Any, pixel_mm: float | tuple[float, float] | None = None) -> Image:
    """An :class:`Image` from a path (any format nmkit reads), an Image, or a numpy array of shape (H, W) or
    (frames, H, W) with its pixel size in mm (unknown when ``pixel_mm`` is None)."""
    if isinstance(source, Image):
        return source
    if isinstance(source, np.ndarray):
        known = pixel_mm is not None
        spacing = (pixel_mm, pixel_mm) if isinstance(pixel_mm, (int, float)) else (pixel_mm or (1.0, 1.0))
        if not np.all(np.isfinite(source)):
            raise InputError("array", "holds NaN or infinite values")
        return Image(source, spacing, metadata={"spacing_known": known}, path=Path("array"))
    if isinstance(source, (str, Path)):
        from nmkit.io import load_image

        return load_image(source)
    raise InputError(None, f"cannot analyse a {type(source).__name__}: give a file path, an nmkit.io.Image or a "
                           f"numpy array")
