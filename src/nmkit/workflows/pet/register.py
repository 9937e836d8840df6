"""Own PET pairs onto one grid: the delayed scan resampled onto the early one's grid and rigidly registered
(SimpleITK, Mattes mutual information, Euler 3-D), both at ``size`` x ``size`` in-plane; the residual reported.

The residual is the distance (mm) between the centroids of the two bodies (SUV > 0.1) over the slices both
scans cover, after registration (``offset_before_mm`` the same before), reported with the rigid motion found.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from nmkit.io import Image

BODY_SUV = 0.1


def to_sitk(image: Image) -> sitk.Image:
    """A (slices, H, W) volume as a SimpleITK image with the affine's geometry (spacing, origin, direction)."""
    volume = sitk.GetImageFromArray(np.ascontiguousarray(image.array, dtype=np.float32))
    affine = image.metadata.get("affine")
    if affine is not None:
        affine = np.asarray(affine, dtype=float)
        axes = affine[:3, :3]
        spacing = np.linalg.norm(axes, axis=0)
        volume.SetSpacing(tuple(float(s) for s in spacing))
        volume.SetOrigin(tuple(float(v) for v in affine[:3, 3]))
        volume.SetDirection(tuple(float(v) for v in (axes / spacing).ravel()))
    else:
        volume.SetSpacing((image.pixel_spacing[1], image.pixel_spacing[0], float(image.slice_spacing or 1.0)))
    return volume


def model_grid(early: sitk.Image, size: int) -> sitk.Image:
    """The early scan's extent at ``size`` x ``size`` in-plane (slices kept)."""
    nx, ny, nz = early.GetSize()
    sx, sy, sz = early.GetSpacing()
    reference = sitk.Image(size, size, nz, sitk.sitkFloat32)
    reference.SetSpacing((sx * nx / size, sy * ny / size, sz))
    direction = np.asarray(early.GetDirection()).reshape(3, 3)
    # keep the field's outer edges: the first voxel's centre moves by half the change in voxel size
    shift = direction @ np.array([(sx * nx / size - sx) / 2, (sy * ny / size - sy) / 2, 0.0])
    reference.SetOrigin(tuple(np.asarray(early.GetOrigin()) + shift))
    reference.SetDirection(early.GetDirection())
    return reference


def _centroid_mm(volume: sitk.Image, slices: np.ndarray) -> np.ndarray:
    """The body's centroid (mm) over the given slices."""
    array = sitk.GetArrayFromImage(volume)
    array[~slices] = 0
    idx = np.argwhere(array > BODY_SUV)
    if not len(idx):
        return np.zeros(3)
    mean = idx.mean(axis=0)[::-1]  # (x, y, z) index
    return np.asarray(volume.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in mean)))


def _offset_mm(early: sitk.Image, delayed: sitk.Image) -> float:
    """Distance between the two bodies' centroids over the slices both scans cover (extents may differ)."""
    both = (sitk.GetArrayViewFromImage(early) > BODY_SUV).any(axis=(1, 2)) & \
        (sitk.GetArrayViewFromImage(delayed) > BODY_SUV).any(axis=(1, 2))
    return float(np.linalg.norm(_centroid_mm(delayed, both) - _centroid_mm(early, both)))


def register_pair(early: Image, delayed: Image, size: int = 128) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(early, delayed) volumes (slices, size, size) on the early scan's grid, the delayed one rigidly
    registered to it, and the registration report (motion found, residual in mm)."""
    fixed, moving = to_sitk(early), to_sitk(delayed)
    initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                sitk.CenteredTransformInitializerFilter.GEOMETRY)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.NONE)  # every voxel: no random sampling, the same result every run
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-3, numberOfIterations=100)
    method.SetOptimizerScalesFromPhysicalShift()
    coarse = min(fixed.GetSize()) >= 64  # small volumes (few slices) have no room for a 4x shrink
    method.SetShrinkFactorsPerLevel([4, 2, 1] if coarse else [2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0] if coarse else [1, 0])
    method.SetInitialTransform(initial, inPlace=False)
    method.SetNumberOfThreads(1)  # a fixed summation order: the same pair gives the same bytes
    transform = method.Execute(fixed, moving)
    grid = model_grid(fixed, size)
    early_on_grid = sitk.Resample(fixed, grid, sitk.Transform(), sitk.sitkLinear, 0.0)
    before = sitk.Resample(moving, grid, sitk.Transform(), sitk.sitkLinear, 0.0)
    after = sitk.Resample(moving, grid, transform, sitk.sitkLinear, 0.0)
    euler = sitk.Euler3DTransform(sitk.CompositeTransform(transform).GetNthTransform(0))
    report = {"rotation_deg": [round(float(np.degrees(a)), 3) for a in euler.GetParameters()[:3]],
              "translation_mm": [round(float(t), 3) for t in euler.GetParameters()[3:]],
              "offset_before_mm": round(_offset_mm(early_on_grid, before), 3),
              "residual_mm": round(_offset_mm(early_on_grid, after), 3),
              "metric": round(float(method.GetMetricValue()), 5)}
    return (sitk.GetArrayFromImage(early_on_grid).astype(np.float32),
            np.clip(sitk.GetArrayFromImage(after), 0, None).astype(np.float32), report)


def resample_labels(early: Image, labels: Image, size: int) -> np.ndarray:
    """A label map on the early scan's voxels, nearest-neighbour onto the ``size`` x ``size`` grid."""
    fixed = to_sitk(early)
    volume = sitk.GetImageFromArray(np.ascontiguousarray(labels.array.round().astype(np.int16)))
    volume.CopyInformation(fixed)
    grid = model_grid(fixed, size)
    return sitk.GetArrayFromImage(sitk.Resample(volume, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0))
