"""NEMA NU 1 flood-field uniformity (integral and differential, UFOV and CFOV) of a gamma camera.

The steps follow NEMA NU 1; results are checked against the IAEA NMQC toolkit and pylinac:

1. Rebin by *summing* k x k blocks so the pixel is 6.4 mm +/- 30 % (4.48-8.32 mm).
2. Find the useful field of view (UFOV) from the image, or take the caller's mask.
3. NEMA edge rule: drop edge pixels below 75 % of the CFOV mean, then every pixel
   with a zero (outside-field) 4-neighbour.
4. CFOV = the UFOV scaled by 75 % in linear size about its centroid.
5. Smooth once with the 9-point 1-2-1 kernel, using only pixels inside the UFOV.
6. IU = 100 (max - min) / (max + min) over the region; DU = the largest such value over
   every run of 5 contiguous pixels in a row or a column lying wholly inside the region.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isfinite

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from nmkit.errors import InputError

NEMA_PIXEL_MM = 6.4
PIXEL_SIZE_TOLERANCE = 0.30  # NEMA allows 6.4 mm +/- 30 %
FIELD_THRESHOLD_FRACTION = 0.5  # field = binned pixels above this fraction of the mean count
EDGE_FRACTION_OF_CFOV_MEAN = 0.75
CFOV_LINEAR_SCALE = 0.75
DU_RUN_LENGTH = 5
MIN_UFOV_PIXELS = 100  # about 10 x 10 binned pixels

NINE_POINT_KERNEL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


@dataclass
class UniformityResult:
    """NEMA uniformity in percent plus the binned geometry it was measured on.

    ``binned`` is the smoothed binned image (zero outside the UFOV); the masks and the
    (row, col) locations are in binned pixels.
    """

    ufov_iu: float
    ufov_du: float
    cfov_iu: float
    cfov_du: float
    bin_factor: int
    binned_pixel_mm: float | None
    binned: np.ndarray
    ufov_mask: np.ndarray
    cfov_mask: np.ndarray
    ufov_max_location: tuple[int, int]
    ufov_min_location: tuple[int, int]

    def as_dict(self) -> dict[str, float | int | None]:
        """The JSON-serialisable scalars (no arrays)."""
        smoothed_ufov = self.binned[self.ufov_mask]
        return {
            "ufov_iu": float(self.ufov_iu),
            "ufov_du": float(self.ufov_du),
            "cfov_iu": float(self.cfov_iu),
            "cfov_du": float(self.cfov_du),
            "bin_factor": int(self.bin_factor),
            "binned_pixel_mm": None if self.binned_pixel_mm is None else float(self.binned_pixel_mm),
            "binned_rows": int(self.binned.shape[0]),
            "binned_cols": int(self.binned.shape[1]),
            "ufov_pixels": int(self.ufov_mask.sum()),
            "cfov_pixels": int(self.cfov_mask.sum()),
            "ufov_mean_counts": float(smoothed_ufov.mean()),
            "ufov_max_counts": float(self.binned[self.ufov_max_location]),
            "ufov_min_counts": float(self.binned[self.ufov_min_location]),
            "ufov_max_row": int(self.ufov_max_location[0]),
            "ufov_max_col": int(self.ufov_max_location[1]),
            "ufov_min_row": int(self.ufov_min_location[0]),
            "ufov_min_col": int(self.ufov_min_location[1]),
        }


def nema_uniformity(
    image: np.ndarray,
    pixel_spacing_mm: float | tuple[float, float] | None = None,
    *,
    bin_factor: int | None = None,
    target_pixel_mm: float = NEMA_PIXEL_MM,
    fov_mask: np.ndarray | None = None,
    source: str | None = None,
) -> UniformityResult:
    """NEMA NU 1 integral and differential uniformity of a 2-D flood image (counts).

    ``pixel_spacing_mm`` is (row, col) mm or one number; without it pass ``bin_factor``.
    ``fov_mask`` (image-sized, or already binned-sized) replaces the automatic UFOV
    detection; the NEMA edge rule is applied to it as well. Smoothing uses only UFOV
    pixels: each pixel is the kernel-weighted sum of its in-field neighbours divided by
    the sum of their weights. Inside the field this is exactly NEMA's fixed /16 kernel
    (what NMQC and pylinac compute there); at the edge it keeps zeros from outside the
    field from pulling values down. NMQC and pylinac instead convolve the whole binned
    image with the fixed /16 kernel and keep their UFOV (95 % of the detected field, then
    eroded) far enough inside that the edge never enters the statistics.
    Bad input raises ``InputError`` naming ``source``.
    """
    counts = _validated_counts(image, source)
    spacing = _validated_spacing(pixel_spacing_mm, source)
    if bin_factor is None:
        if spacing is None:
            raise InputError(source, "the pixel spacing is unknown, so pass bin_factor to rebin to NEMA's 6.4 mm pixels")
        bin_factor = choose_bin_factor(spacing, target_pixel_mm, source=source)
    elif isinstance(bin_factor, bool) or not isinstance(bin_factor, (int, np.integer)) or bin_factor < 1:
        raise InputError(source, f"bin_factor must be a positive integer, got {bin_factor!r}")
    bin_factor = int(bin_factor)
    if bin_factor > min(counts.shape):
        raise InputError(source, f"the image ({counts.shape[0]} x {counts.shape[1]}) is smaller than one {bin_factor} x {bin_factor} bin")

    binned = sum_bin(counts, bin_factor)
    field = _binned_field_mask(fov_mask, counts.shape, binned, bin_factor, source)
    ufov = apply_nema_edge_rule(binned, field)
    pixel_note = "" if spacing is None else f" of {bin_factor * float(np.mean(spacing)):.2f} mm"
    if ufov.sum() < MIN_UFOV_PIXELS:
        count = int(ufov.sum())
        raise InputError(
            source,
            f"the useful field of view has only {count} binned pixel{'' if count == 1 else 's'}{pixel_note}, too small for NEMA "
            f"uniformity (needs at least {MIN_UFOV_PIXELS}, about 10 x 10)",
        )
    cfov = central_field_mask(ufov)
    if not (_has_full_run(cfov, axis=0) and _has_full_run(cfov, axis=1)):
        raise InputError(
            source,
            f"the central field of view has no run of {DU_RUN_LENGTH} pixels in both rows and columns, "
            "too small for NEMA differential uniformity",
        )

    smoothed = smooth_nine_point(binned, ufov)
    ufov_iu, max_location, min_location = integral_uniformity(smoothed, ufov)
    cfov_iu, _, _ = integral_uniformity(smoothed, cfov)
    return UniformityResult(
        ufov_iu=ufov_iu,
        ufov_du=differential_uniformity(smoothed, ufov),
        cfov_iu=cfov_iu,
        cfov_du=differential_uniformity(smoothed, cfov),
        bin_factor=bin_factor,
        binned_pixel_mm=None if spacing is None else bin_factor * float(np.mean(spacing)),
        binned=smoothed,
        ufov_mask=ufov,
        cfov_mask=cfov,
        ufov_max_location=max_location,
        ufov_min_location=min_location,
    )


def choose_bin_factor(
    pixel_spacing_mm: float | tuple[float, float],
    target_pixel_mm: float = NEMA_PIXEL_MM,
    *,
    source: str | None = None,
) -> int:
    """The k x k summing factor that makes pixels ``target_pixel_mm`` +/- 30 % (NEMA: 4.48-8.32 mm).

    Among the legal factors a power of two is preferred (it keeps the standard 64/128
    matrices that NMQC and pylinac use, e.g. 2.065 mm -> k = 4, 8.26 mm, 64 x 64 from 256);
    the one closest to the target wins. Any other integer is used only when no power of
    two is legal. Raises ``InputError`` when no k gives a legal pixel.
    """
    spacing = _validated_spacing(pixel_spacing_mm, source)
    if spacing is None:
        raise InputError(source, "the pixel spacing is unknown, so pass bin_factor explicitly")
    if not (isfinite(target_pixel_mm) and target_pixel_mm > 0):
        raise InputError(source, f"target_pixel_mm must be a positive number, got {target_pixel_mm!r}")
    low, high = target_pixel_mm * (1 - PIXEL_SIZE_TOLERANCE), target_pixel_mm * (1 + PIXEL_SIZE_TOLERANCE)
    finest = min(spacing)
    factors = np.arange(1, int(high // finest) + 1)
    binned_sizes = factors[:, None] * np.asarray(spacing)[None, :]
    legal = np.all((binned_sizes >= low) & (binned_sizes <= high), axis=1)
    if not legal.any():
        raise InputError(
            source,
            f"no integer binning of {spacing[0]:g} x {spacing[1]:g} mm pixels gives {low:.2f}-{high:.2f} mm "
            f"(NEMA {target_pixel_mm:g} mm +/- 30 %); pass bin_factor to force one",
        )
    distance = np.abs(binned_sizes - target_pixel_mm).max(axis=1)
    power_of_two = (factors & (factors - 1)) == 0
    preferred = legal & power_of_two if (legal & power_of_two).any() else legal
    candidates = np.flatnonzero(preferred)
    return int(factors[candidates[np.argmin(distance[candidates])]])


def sum_bin(image: np.ndarray, factor: int) -> np.ndarray:
    """Sum k x k blocks (float64); partial blocks at the bottom and right edges are dropped."""
    rows, cols = image.shape[0] // factor, image.shape[1] // factor
    trimmed = np.asarray(image, dtype=np.float64)[: rows * factor, : cols * factor]
    return trimmed.reshape(rows, factor, cols, factor).sum(axis=(1, 3))


def detect_field_mask(binned: np.ndarray, fraction: float = FIELD_THRESHOLD_FRACTION) -> np.ndarray:
    """The detector field: pixels above ``fraction`` x the mean count, largest 4-connected part, holes filled.

    The mean is taken over the non-zero pixels, then refined once over the pixels above the
    first threshold, so low background counts do not drag it down. With ``fraction`` = 0.5
    an edge pixel is in when roughly half its area or more sees the flood (NEMA's rule for
    pixels straddling the UFOV boundary).
    """
    nonzero = binned[binned > 0]
    if nonzero.size == 0:
        return np.zeros(binned.shape, dtype=bool)
    first_guess = binned > fraction * nonzero.mean()
    above = binned > fraction * binned[first_guess].mean()
    labels, count = ndimage.label(above, structure=FOUR_CONNECTED)
    if count == 0:
        return above
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(labels == np.argmax(sizes))


def apply_nema_edge_rule(binned: np.ndarray, field: np.ndarray) -> np.ndarray:
    """NEMA edge rule: drop edge pixels below 75 % of the CFOV mean, then pixels with a zero 4-neighbour.

    Pixels outside ``field`` and outside the image count as zero, so the outer ring of
    the field always goes, and a second ring goes where the outer one was below 75 %.
    """
    field = np.asarray(field, dtype=bool)
    if not field.any():
        return field.copy()
    interior = ndimage.binary_erosion(field, structure=FOUR_CONNECTED, border_value=0)
    edge = field & ~interior
    central = central_field_mask(field)
    central_mean = binned[central].mean() if central.any() else binned[field].mean()
    kept = field & ~(edge & (binned < EDGE_FRACTION_OF_CFOV_MEAN * central_mean))
    return ndimage.binary_erosion(kept, structure=FOUR_CONNECTED, border_value=0)


def central_field_mask(ufov: np.ndarray, scale: float = CFOV_LINEAR_SCALE) -> np.ndarray:
    """The UFOV scaled by ``scale`` in linear size about its centroid (a pixel is in when its
    centre, mapped back by 1/scale, falls inside a UFOV pixel)."""
    ufov = np.asarray(ufov, dtype=bool)
    if not ufov.any():
        return ufov.copy()
    rows, cols = np.nonzero(ufov)
    centre_row, centre_col = rows.mean(), cols.mean()
    grid_rows, grid_cols = np.indices(ufov.shape, dtype=np.float64)
    source_rows = np.rint(centre_row + (grid_rows - centre_row) / scale).astype(np.intp)
    source_cols = np.rint(centre_col + (grid_cols - centre_col) / scale).astype(np.intp)
    inside = (source_rows >= 0) & (source_rows < ufov.shape[0]) & (source_cols >= 0) & (source_cols < ufov.shape[1])
    scaled = np.zeros_like(ufov)
    scaled[inside] = ufov[source_rows[inside], source_cols[inside]]
    return scaled & ufov


def smooth_nine_point(binned: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """NEMA 9-point (1 2 1 / 2 4 2 / 1 2 1) smoothing over ``mask`` only; zero outside.

    Each pixel is normalised by the summed weight of its in-mask neighbours, so it equals
    the usual /16 kernel wherever all 8 neighbours are in the mask.
    """
    mask = np.asarray(mask, dtype=bool)
    weights = mask.astype(np.float64)
    numerator = ndimage.convolve(np.where(mask, binned, 0.0), NINE_POINT_KERNEL, mode="constant", cval=0.0)
    denominator = ndimage.convolve(weights, NINE_POINT_KERNEL, mode="constant", cval=0.0)
    smoothed = np.zeros(binned.shape, dtype=np.float64)
    smoothed[mask] = numerator[mask] / denominator[mask]
    return smoothed


def integral_uniformity(values: np.ndarray, mask: np.ndarray) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """IU = 100 (max - min) / (max + min) over ``mask``; returns (IU, max (row, col), min (row, col))."""
    mask = np.asarray(mask, dtype=bool)
    max_index = np.argmax(np.where(mask, values, -np.inf))
    min_index = np.argmin(np.where(mask, values, np.inf))
    high, low = float(values.flat[max_index]), float(values.flat[min_index])
    iu = 0.0 if high + low == 0 else 100.0 * (high - low) / (high + low)
    return iu, _row_col(max_index, values.shape), _row_col(min_index, values.shape)


def differential_uniformity(values: np.ndarray, mask: np.ndarray, run_length: int = DU_RUN_LENGTH) -> float:
    """DU = the largest 100 (max - min) / (max + min) over runs of ``run_length`` pixels in rows
    and columns lying wholly inside ``mask``; 0 when there is no such run."""
    mask = np.asarray(mask, dtype=bool)
    worst = 0.0
    for axis in (0, 1):
        if values.shape[axis] < run_length:
            continue
        windows = sliding_window_view(values, run_length, axis=axis)
        inside = sliding_window_view(mask, run_length, axis=axis).all(axis=-1)
        if not inside.any():
            continue
        high, low = windows.max(axis=-1)[inside], windows.min(axis=-1)[inside]
        total = high + low
        contrast = np.divide(high - low, total, out=np.zeros_like(total), where=total > 0)
        worst = max(worst, 100.0 * float(contrast.max()))
    return worst


def _row_col(flat_index: np.intp, shape: tuple[int, ...]) -> tuple[int, int]:
    row, col = np.unravel_index(flat_index, shape)
    return int(row), int(col)


def _has_full_run(mask: np.ndarray, axis: int, run_length: int = DU_RUN_LENGTH) -> bool:
    if mask.shape[axis] < run_length:
        return False
    return bool(sliding_window_view(mask, run_length, axis=axis).all(axis=-1).any())


def _validated_counts(image: np.ndarray, source: str | None) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        frames = f" ({array.shape[0]} frames)" if array.ndim == 3 else ""
        raise InputError(source, f"NEMA uniformity needs one 2-D flood image, got an array of shape {array.shape}{frames}")
    if array.dtype.kind not in "biuf":
        raise InputError(source, f"the flood image must hold numeric counts, got dtype {array.dtype}")
    if array.size == 0:
        raise InputError(source, f"the flood image is empty (shape {array.shape})")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise InputError(source, f"the flood image has {int((~np.isfinite(array)).sum())} NaN or infinite pixels")
    if (array < 0).any():
        raise InputError(source, f"the flood image has negative counts (minimum {array.min():g}), so it is not a count image")
    if not array.any():
        raise InputError(source, "the flood image is all zeros, so it has no counts to measure")
    if array.min() == array.max():
        raise InputError(
            source,
            f"the flood image is constant ({array.flat[0]:g} counts in every pixel), so it has no detector edge "
            "and no usable field of view",
        )
    return array


def _validated_spacing(pixel_spacing_mm: float | tuple[float, float] | None, source: str | None) -> tuple[float, float] | None:
    if pixel_spacing_mm is None:
        return None
    values = np.atleast_1d(np.asarray(pixel_spacing_mm, dtype=object)).ravel()
    try:
        spacing = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(source, f"pixel spacing must be one or two numbers in mm, got {pixel_spacing_mm!r}") from None
    if len(spacing) == 1:
        spacing = spacing * 2
    if len(spacing) != 2 or not all(isfinite(v) and v > 0 for v in spacing):
        raise InputError(source, f"pixel spacing must be one or two positive numbers in mm, got {pixel_spacing_mm!r}")
    return spacing  # type: ignore[return-value]


def _binned_field_mask(
    fov_mask: np.ndarray | None,
    image_shape: tuple[int, ...],
    binned: np.ndarray,
    factor: int,
    source: str | None,
) -> np.ndarray:
    if fov_mask is None:
        return detect_field_mask(binned)
    mask = np.asarray(fov_mask)
    if mask.shape == binned.shape:
        field = mask.astype(bool)
    elif mask.shape == tuple(image_shape):
        # a binned pixel is in the field only when its whole k x k block is
        field = sum_bin(mask.astype(bool), factor) == factor * factor
    else:
        raise InputError(
            source,
            f"fov_mask has shape {mask.shape}, expected the image shape {tuple(image_shape)} "
            f"or the binned shape {binned.shape}",
        )
    if not field.any():
        raise InputError(source, f"fov_mask covers no whole {factor} x {factor} bin, so there is no field of view to measure")
    return field
