"""Gamma-camera flood phantoms with known ground truth: normal floods and floods with one local defect.

A flood's expected image lives on the detector field of view (FOV; 0 counts outside it). It is a flat
level (``counts``, the mean over the FOV) times the normal non-uniformity of a working camera (a faint
hexagonal PMT tube pattern, a low-frequency gradient and edge packing, drawn per image and scaled by
``nonuniformity``), times at most one defect. Counting noise is an exact Poisson draw on it (:func:`poisson`).

Defects (``alpha`` is the relative depth or height at the profile's peak):

- ``cold_disc`` (the study's local cold region): expected *= 1 - alpha * brush, a soft-edged disc of the
  given diameter lying fully inside the FOV (see :func:`brush_profile` for the four edge profiles);
- ``hot_spot``: the same discs, expected *= 1 + alpha * brush;
- ``pmt_failure``: one tube of the hexagonal array (75 mm) loses 10-40 % of its counts (cosine profile);
- ``crack``: a crystal crack, a thin cold line 1-2 px wide, of random orientation and length, 5-30 % deep.

Determinism: image ``i`` draws everything from an SFC64 generator seeded with ``SeedSequence(seed).spawn(n)[i]``,
and labels and grid values come from permutations of fixed-size blocks keyed by the seed, so the same seed
gives the same bytes however the work is chunked or threaded, and a smaller ``n`` gives a prefix of a larger set.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage, special

from nmkit.atomic import atomic_dir
from nmkit.phantoms.table import check_target, read_table, write_table

E_CAM_FOV_MM = 533.0
"""Useful field of view of a Siemens E.Cam detector along its long side (mm)."""
PMT_TUBE_MM = 75.0
"""Diameter and centre-to-centre pitch of the photomultiplier tubes in the hexagonal array (mm)."""
FOV_SHAPES = ("rectangular", "circular", "octagonal")
DEFECT_TYPES = ("cold_disc", "hot_spot", "pmt_failure", "crack")
BRUSH_NAMES = ("hard", "linear", "cosine", "gaussian")
PAPER_SHAPE = (175, 238)
PAPER_COUNTS = 98.0
PAPER_ALPHAS = (0.02, 0.04, 0.06, 0.08)
PAPER_DIAMETERS = tuple(range(5, 76, 5))
MANIFEST_COLUMNS = ("file", "label", "defect", "alpha", "diameter", "brush", "row", "col", "counts")

_GAUSSIAN_SIGMA = 1 / 3  # of the radius, for brush 3: the diameter spans +-3 sigma
_RIM_DECAY_PX = 1.5  # e-folding distance of edge packing
_CHUNK = 32  # images per thread-pool task
_NOISE_GROUP = 16  # images whose rare Poisson steps run together (bigger groups save calls, smaller page faults)
_WRITE_CHUNK = 256  # images generated per step of write_flood_set
_LABEL_TAG, _GRID_TAG = 1, 2  # entropy tags of the label and grid permutations
_LABEL_SUPERBLOCK = 512  # label blocks drawn per generator


@lru_cache(maxsize=256)
def brush_profile(brush: int, diameter: float) -> np.ndarray:
    """The soft-edged disc ``brush`` of ``diameter`` px on a (2k+1)-square: 1 at the centre, 0 beyond diameter/2.

    With r the distance from the centre over the radius R = diameter/2:
    0 ``hard``: 1 for r <= 1 (a sharp edge);
    1 ``linear``: 1 up to r = 0.5, then a straight ramp to 0 at r = 1 (flat top, linear edge);
    2 ``cosine``: 0.5 (1 + cos(pi r)) for r < 1 (a smooth dome over the whole radius);
    3 ``gaussian``: exp(-r^2 / (2 sigma^2)), sigma = 1/3, shifted and scaled to reach 0 at r = 1 (a bell).
    The array is read-only and cached.
    """
    if int(brush) not in range(len(BRUSH_NAMES)):
        raise ValueError(f"brush must be 0-{len(BRUSH_NAMES) - 1} ({', '.join(BRUSH_NAMES)}), not {brush!r}")
    if not diameter > 0:
        raise ValueError(f"diameter must be positive, not {diameter!r}")
    radius = diameter / 2
    half = math.ceil(radius)
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    r = np.hypot(yy, xx) / radius
    if brush == 0:
        profile = (r <= 1).astype(np.float64)
    elif brush == 1:
        profile = np.clip(2.0 * (1.0 - r), 0.0, 1.0)
    elif brush == 2:
        profile = np.where(r < 1, 0.5 * (1.0 + np.cos(np.pi * np.minimum(r, 1.0))), 0.0)
    else:
        floor = math.exp(-1.0 / (2 * _GAUSSIAN_SIGMA**2))
        profile = np.clip((np.exp(-r**2 / (2 * _GAUSSIAN_SIGMA**2)) - floor) / (1.0 - floor), 0.0, 1.0)
    profile.setflags(write=False)
    return profile


def fov_mask(shape: tuple[int, int], fov: str = "rectangular", margin: int = 0) -> np.ndarray:
    """Boolean detector field of view centred in an image of ``shape`` (rows, cols), ``margin`` px from its edges.

    ``rectangular`` fills the image less the margin; ``circular`` is the largest circle that fits;
    ``octagonal`` is the rectangle with its corners cut at 45 degrees (a regular octagon in a square image).
    """
    if fov not in FOV_SHAPES:
        raise ValueError(f"fov must be one of {', '.join(FOV_SHAPES)}, not {fov!r}")
    rows, cols = shape
    y = np.abs(np.arange(rows) - (rows - 1) / 2)[:, None]
    x = np.abs(np.arange(cols) - (cols - 1) / 2)[None, :]
    half_h, half_w = rows / 2 - margin, cols / 2 - margin
    inside = (y < half_h) & (x < half_w)
    if fov == "circular":
        inside &= np.hypot(y, x) <= min(half_h, half_w)
    elif fov == "octagonal":
        inside &= x + y <= (half_h + half_w) / math.sqrt(2)
    return inside


@dataclass
class FloodSpec:
    """What to generate. ``shape`` is (rows, cols); ``counts`` is the mean expected counts per pixel in the FOV.

    ``defect_fraction`` of the images (exactly, per block of images) get one defect, its type and
    (alpha, diameter, brush) cycling through a shuffled grid of ``defect_types`` x ``alphas`` x
    ``diameters`` x ``brushes``; PMT failures and cracks draw their own depth and size (module docstring).
    ``nonuniformity`` scales the normal non-uniformity (0 = perfectly flat expected image; 1 = PMT
    pattern 0.5-1.5 % peak to peak, gradient 1-2 % across, edge packing 1.5-3 % at the rim).
    """

    shape: tuple[int, int] = PAPER_SHAPE
    counts: float = PAPER_COUNTS
    fov: str = "rectangular"
    fov_margin: int = 0
    pixel_mm: float = E_CAM_FOV_MM / PAPER_SHAPE[1]
    defect_fraction: float = 0.5
    defect_types: tuple[str, ...] = ("cold_disc",)
    alphas: tuple[float, ...] = PAPER_ALPHAS
    diameters: tuple[int, ...] = PAPER_DIAMETERS
    brushes: tuple[int, ...] = (0, 1, 2, 3)
    nonuniformity: float = 1.0

    @classmethod
    def paper(cls) -> FloodSpec:
        """The study's set: 238 x 175 px, mean 98, full rectangular FOV, cold discs only, 50/50, mild non-uniformity."""
        return cls(shape=PAPER_SHAPE, counts=PAPER_COUNTS, fov="rectangular", fov_margin=0,
                   pixel_mm=E_CAM_FOV_MM / PAPER_SHAPE[1], defect_fraction=0.5, defect_types=("cold_disc",),
                   alphas=PAPER_ALPHAS, diameters=PAPER_DIAMETERS, brushes=(0, 1, 2, 3), nonuniformity=0.5)

    def __post_init__(self) -> None:
        self.shape = tuple(int(v) for v in self.shape)
        self.defect_types = tuple(str(v) for v in self.defect_types)
        self.alphas = tuple(float(v) for v in self.alphas)
        self.diameters = tuple(int(v) for v in self.diameters)
        self.brushes = tuple(int(v) for v in self.brushes)
        self.counts, self.pixel_mm = float(self.counts), float(self.pixel_mm)
        self.defect_fraction, self.nonuniformity = float(self.defect_fraction), float(self.nonuniformity)
        self.fov_margin = int(self.fov_margin)
        if len(self.shape) != 2 or min(self.shape) < 8:
            raise ValueError(f"shape must be (rows, cols), each at least 8, not {self.shape}")
        if self.fov not in FOV_SHAPES:
            raise ValueError(f"fov must be one of {', '.join(FOV_SHAPES)}, not {self.fov!r}")
        if not 0 <= self.fov_margin < min(self.shape) // 4:
            raise ValueError(f"fov_margin must be 0 to {min(self.shape) // 4 - 1} px, not {self.fov_margin}")
        if not (math.isfinite(self.counts) and self.counts > 0):
            raise ValueError(f"counts must be positive, not {self.counts}")
        if not self.pixel_mm > 0:
            raise ValueError(f"pixel_mm must be positive, not {self.pixel_mm}")
        if not 0.0 <= self.defect_fraction <= 1.0:
            raise ValueError(f"defect_fraction must be in [0, 1], not {self.defect_fraction}")
        if not self.nonuniformity >= 0:
            raise ValueError(f"nonuniformity must be >= 0, not {self.nonuniformity}")
        unknown = [t for t in self.defect_types if t not in DEFECT_TYPES]
        if not self.defect_types or unknown:
            raise ValueError(f"defect_types must be some of {', '.join(DEFECT_TYPES)}, not {self.defect_types}")
        if not self.alphas or any(not 0 < a <= 1 for a in self.alphas):
            raise ValueError(f"alphas must be in (0, 1], not {self.alphas}")
        if not self.diameters or min(self.diameters) < 1:
            raise ValueError(f"diameters must be positive pixel counts, not {self.diameters}")
        if not self.brushes or any(b not in range(len(BRUSH_NAMES)) for b in self.brushes):
            raise ValueError(f"brushes must be some of 0-3 ({', '.join(BRUSH_NAMES)}), not {self.brushes}")
        geometry = _geometry(self.shape, self.fov, self.fov_margin, self.pixel_mm)
        discs = {"cold_disc", "hot_spot"} & set(self.defect_types)
        if discs and self.defect_fraction > 0 and max(self.diameters) / 2 >= geometry.edt.max():
            raise ValueError(f"a {max(self.diameters)} px disc does not fit inside the {self.fov} FOV of {self.shape}")


@dataclass
class _Geometry:
    """Everything about a spec's detector that does not change between images (cached)."""

    mask: np.ndarray  # (H, W) bool FOV
    edt: np.ndarray  # (H, W) distance to the nearest pixel outside the FOV (or the image)
    rim: np.ndarray  # (H, W) edge-packing profile, 1 at the FOV's outermost pixels, 0 outside
    tubes: np.ndarray  # (H + cell_h, W + cell_w) PMT pattern, peak to peak 1, tube centres on the lattice
    rows: np.ndarray  # (H,) row coordinate -0.5..0.5 for the gradient
    cols: np.ndarray  # (W,) column coordinate -0.5..0.5
    pitch_px: float  # tube pitch in px
    _valid: dict[float, np.ndarray] = field(default_factory=dict)
    full: bool = False  # the FOV fills the image

    @property
    def cell(self) -> tuple[int, int]:
        """Integer shifts (rows, cols) that cover one rectangular period of the tube lattice."""
        return math.ceil(self.pitch_px * math.sqrt(3)), math.ceil(self.pitch_px)

    def valid_centres(self, radius: float) -> np.ndarray:
        """Flat indices of the centres whose disc of ``radius`` lies fully inside the FOV."""
        if radius not in self._valid:
            self._valid[radius] = np.flatnonzero(self.edt.ravel() > radius)
        return self._valid[radius]

    def tube_centres(self, shift: tuple[int, int]) -> np.ndarray:
        """(row, col) of the PMT centres inside the FOV when the pattern is cropped at ``shift``."""
        rows, cols = self.mask.shape
        s = self.pitch_px
        reach = int(max(rows, cols) / s) * 2 + 4
        m, n = np.meshgrid(np.arange(-reach, reach + 1), np.arange(-reach, reach + 1))
        r = np.rint(n * s * math.sqrt(3) / 2 - shift[0]).astype(int).ravel()
        c = np.rint((m + n / 2) * s - shift[1]).astype(int).ravel()
        keep = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        r, c = r[keep], c[keep]
        keep = self.mask[r, c]
        return np.stack([r[keep], c[keep]], axis=1)


@lru_cache(maxsize=16)
def _geometry(shape: tuple[int, int], fov: str, margin: int, pixel_mm: float) -> _Geometry:
    mask = fov_mask(shape, fov, margin)
    edt = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    rim = np.where(mask, np.exp(-(edt - 1.0) / _RIM_DECAY_PX), 0.0)
    rows, cols = shape
    pitch_px = PMT_TUBE_MM / pixel_mm
    cell_h, cell_w = math.ceil(pitch_px * math.sqrt(3)), math.ceil(pitch_px)
    y = np.arange(rows + cell_h)[:, None] / pitch_px
    x = np.arange(cols + cell_w)[None, :] / pitch_px
    # The three shortest reciprocal vectors of a hexagonal lattice of pitch 1 with a tube at the origin.
    k = 2 * math.pi
    tubes = (np.cos(k * (x - y / math.sqrt(3))) + np.cos(k * 2 * y / math.sqrt(3))
             + np.cos(k * (x + y / math.sqrt(3)))) / 4.5  # the sum spans -1.5..3
    row_coord = (np.arange(rows) - (rows - 1) / 2) / rows
    col_coord = (np.arange(cols) - (cols - 1) / 2) / cols
    for a in (mask, edt, rim, tubes, row_coord, col_coord):
        a.setflags(write=False)
    return _Geometry(mask, edt, rim, tubes, row_coord, col_coord, pitch_px, full=bool(mask.all()))


def _expected_normal(geometry: _Geometry, u: np.ndarray, scale: float,
                     counts: float) -> tuple[np.ndarray, tuple[int, int]]:
    """A normal expected image from six uniforms (PMT amplitude and shift, gradient, edge packing); its tube shift."""
    cell_h, cell_w = geometry.cell
    shift = (int(u[1] * cell_h), int(u[2] * cell_w))
    rows, cols = geometry.mask.shape
    if scale > 0:
        amplitude = scale * (0.005 + 0.010 * u[0])  # PMT pattern, peak to peak
        gradient, angle = scale * (0.010 + 0.010 * u[3]), 2 * math.pi * u[4]  # across the image
        rim = scale * (0.015 + 0.015 * u[5])  # edge packing at the outermost FOV pixels
        image = geometry.tubes[shift[0]:shift[0] + rows, shift[1]:shift[1] + cols] * amplitude
        image += (1.0 + gradient * math.sin(angle) * geometry.rows)[:, None]
        image += (gradient * math.cos(angle) * geometry.cols)[None, :]
        image += rim * geometry.rim
        if not geometry.full:
            image *= geometry.mask
    else:
        image = geometry.mask.astype(np.float64)
    image *= counts * np.count_nonzero(geometry.mask) / image.sum()
    return image, shift


def _label_block(fraction: float) -> tuple[int, int]:
    """(block size, defects per block): the smallest block holding an exact share, else 100."""
    for size in range(1, 101):
        if abs(fraction * size - round(fraction * size)) < 1e-9:
            return size, round(fraction * size)
    return 100, round(fraction * 100)


def _plan(spec: FloodSpec, seed: int, start: int, stop: int) -> tuple[np.ndarray, list[tuple | None]]:
    """Labels of images start..stop-1 and, for each defect, its grid entry (type, alpha, diameter, brush)."""
    size, per_block = _label_block(spec.defect_fraction)
    first, last = start // size, (stop - 1) // size
    blocks = []
    for superblock in range(first // _LABEL_SUPERBLOCK, last // _LABEL_SUPERBLOCK + 1):
        rng = np.random.default_rng(np.random.SeedSequence([seed, _LABEL_TAG, superblock]))
        perms = rng.permuted(np.tile(np.arange(size), (_LABEL_SUPERBLOCK, 1)), axis=1) < per_block
        lo = max(first, superblock * _LABEL_SUPERBLOCK) - superblock * _LABEL_SUPERBLOCK
        hi = min(last, superblock * _LABEL_SUPERBLOCK + _LABEL_SUPERBLOCK - 1) - superblock * _LABEL_SUPERBLOCK
        blocks.append(perms[lo:hi + 1].ravel())
    in_blocks = np.concatenate(blocks)
    offset = start - first * size
    labels = in_blocks[offset:offset + stop - start]
    ordinals = first * per_block + int(in_blocks[:offset].sum()) + np.cumsum(labels) - 1
    grid = list(itertools.product(spec.defect_types, spec.alphas, spec.diameters, spec.brushes))
    perms: dict[int, np.ndarray] = {}
    entries: list[tuple | None] = []
    for is_defect, j in zip(labels, ordinals):
        if not is_defect:
            entries.append(None)
            continue
        block = int(j) // len(grid)
        if block not in perms:
            rng = np.random.default_rng(np.random.SeedSequence([seed, _GRID_TAG, block]))
            perms[block] = rng.permutation(len(grid))
        entries.append(grid[perms[block][int(j) % len(grid)]])
    return labels.astype(np.int64), entries


def _composite(image: np.ndarray, profile: np.ndarray, row: int, col: int, scale: float) -> None:
    """image *= 1 + scale * profile, the profile centred at (row, col) and clipped to the image (in place)."""
    half = profile.shape[0] // 2
    r0, c0 = max(row - half, 0), max(col - half, 0)
    r1, c1 = min(row + half + 1, image.shape[0]), min(col + half + 1, image.shape[1])
    patch = profile[r0 - row + half:r1 - row + half, c0 - col + half:c1 - col + half]
    image[r0:r1, c0:c1] *= 1.0 + scale * patch


def _crack_profile(length: float, width: int, angle: float) -> np.ndarray:
    """A line of ``length`` px and ``width`` px through the centre of a (2k+1)-square, anti-aliased (1 on the line)."""
    half = math.ceil(length / 2 + width)
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    along = np.clip(xx * math.cos(angle) + yy * math.sin(angle), -length / 2, length / 2)
    dist = np.hypot(xx - along * math.cos(angle), yy - along * math.sin(angle))
    return np.clip(width / 2 + 0.5 - dist, 0.0, 1.0)


def _add_defect(image: np.ndarray, entry: tuple, v: np.ndarray, shift: tuple[int, int],
                geometry: _Geometry) -> dict[str, Any]:
    """Composite one defect on an expected image (in place); return its ground truth."""
    kind, alpha, diameter, brush = entry
    cols = image.shape[1]
    if kind in ("cold_disc", "hot_spot"):
        valid = geometry.valid_centres(diameter / 2)
        row, col = divmod(int(valid[int(v[0] * len(valid))]), cols)
        _composite(image, brush_profile(brush, diameter), row, col, -alpha if kind == "cold_disc" else alpha)
    elif kind == "pmt_failure":
        alpha, brush = round(0.10 + 0.30 * float(v[1]), 3), 2
        diameter = round(geometry.pitch_px)
        tubes = geometry.tube_centres(shift)
        if len(tubes):
            row, col = (int(x) for x in tubes[int(v[0] * len(tubes))])
        else:  # a field smaller than one tube: the tube sits at the centre
            row, col = image.shape[0] // 2, cols // 2
        _composite(image, brush_profile(2, geometry.pitch_px), row, col, -alpha)
    else:  # crack
        alpha, brush = round(0.05 + 0.25 * float(v[1]), 3), 1 + int(v[4] >= 0.5)
        longest = max(2.0, 2 * (float(geometry.edt.max()) - brush - 1))
        shortest = min(10.0, longest)
        length = round(shortest + (min(0.8 * geometry.edt.max(), longest) - shortest) * float(v[2]), 1)
        length = max(shortest, length)
        valid = geometry.valid_centres(length / 2 + brush)
        if not len(valid):
            valid = np.array([np.argmax(geometry.edt)])
        row, col = divmod(int(valid[int(v[0] * len(valid))]), cols)
        _composite(image, _crack_profile(length, brush, math.pi * float(v[3])), row, col, -alpha)
        diameter = round(length)
    return {"defect": kind, "alpha": float(alpha), "diameter": int(diameter), "brush": int(brush),
            "row": int(row), "col": int(col)}


def _fill(out: np.ndarray, spec: FloodSpec, seed: int, indices: range, labels: np.ndarray,
          entries: list[tuple | None], noiseless: bool, work: list[np.ndarray] | None = None) -> list[dict[str, Any]]:
    """Draw images ``indices`` into ``out`` (float32, one slot per index); return their records.

    ``work`` holds the Poisson sampler's work arrays for reuse by the next call in the same thread.
    """
    geometry = _geometry(spec.shape, spec.fov, spec.fov_margin, spec.pixel_mm)
    records = []
    noise = _PoissonBatch(work)
    for k, i in enumerate(indices):
        rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence(seed, spawn_key=(i,))))
        u = rng.random(6)  # normal non-uniformity
        v = rng.random(6)  # defect position, depth, length, angle, width
        expected, shift = _expected_normal(geometry, u, spec.nonuniformity, spec.counts)
        record = {"label": int(labels[k]), "defect": "none", "alpha": 0.0, "diameter": 0, "brush": -1,
                  "row": -1, "col": -1}
        if entries[k] is not None:
            record |= _add_defect(expected, entries[k], v, shift, geometry)
        record["counts"] = spec.counts
        records.append(record)
        if noiseless:
            out[k] = expected
        else:
            noise.add(rng, expected, out[k])
            if noise.size >= _NOISE_GROUP:
                noise.finish()
    noise.finish()
    return records


# Counting noise: Ahrens & Dieter (1982), "Computer generation of Poisson deviates from modified normal
# distributions", ACM TOMS 8(2):163-179, algorithm PD, vectorised, for means from 10 to 1e6.
_PD_MIN, _PD_MAX = 10.0, 1e6
_PD_L_SHIFT = 1.1484  # from k = floor(mu - 1.1484) on, p_k >= f_k (step I, left to steps S and Q here)
_PD_T_MIN = -0.6744  # where t <= -0.6744, p_k < f_k: the Laplace hat needs no mass there
_PD_HAT = 0.1069  # c * mu, the height of the Laplace hat over p_k - f_k
_PD_CANDIDATES = 4  # hat candidates drawn at once per open pixel (each is accepted with probability 0.62)
_PD_BLOCK = 4096  # below this many candidates left in a round, test them all at once


def _poisson_pmf(k: np.ndarray, mu: np.ndarray, log_mu: np.ndarray) -> np.ndarray:
    """Poisson probabilities p_k of mean ``mu`` (k >= 0, whole numbers as floats; ``log_mu`` = log(mu))."""
    return np.exp(k * log_mu - mu - special.gammaln(k + 1.0))


def _discrete_normal_pmf(k: np.ndarray, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """f_k = P(floor(mu + s Z) = k) for a standard normal Z: the law of PD's first proposal."""
    z0 = (k - mu) / s
    z1 = z0 + 1.0 / s
    upper = z0 > 0  # there, the same mass as P(-z1 < Z <= -z0), so no digits cancel in the far tail
    return special.ndtr(np.where(upper, -z0, z1)) - special.ndtr(np.where(upper, -z1, z0))


def _pd_steps_ns(rng: np.random.Generator, mu: np.ndarray,
                 work: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps N and S on 1-D means in [10, 1e6]: the proposals k, the uniforms u, and where k is not kept yet.

    ``work`` is four float64 arrays and a bool array, at least as long as ``mu``, reused from image to image:
    fresh temporaries of this size cost the VM more in page faults than the arithmetic. k and u are views
    into it, valid until the next call.
    """
    n = mu.size
    k, u, a, b, open_ = (w[:n] for w in work)
    rng.standard_normal(out=k)
    k *= np.sqrt(mu, out=a)
    k += mu
    np.floor(k, out=k)  # a negative k (10 sd below the mean) fails the squeeze and goes on to step E
    rng.random(out=u)
    np.subtract(mu, k, out=a)
    np.multiply(a, a, out=b)
    b *= a  # (mu - k)^3
    np.multiply(mu, 6.0, out=a)
    a *= mu
    a *= u  # 6 mu^2 u
    np.less(a, b, out=open_)  # step S, the squeeze: keep k where 6 mu^2 u >= (mu - k)^3
    return k, u, np.flatnonzero(open_)


class _PoissonBatch:
    """Exact Poisson draws for a batch of images, each from its own generator: :meth:`add` each, then :meth:`finish`.

    Means from 10 to 1e6 use the Ahrens-Dieter PD algorithm. Step N proposes k = floor(mu + sqrt(mu) Z),
    whose law is the discrete normal f_k, and keeps it with probability min(1, p_k / f_k): with a uniform u,
    when (1 - u) f_k <= p_k (step Q). Two shortcuts settle most pixels without p_k and f_k: step I keeps
    every k >= floor(mu - 1.1484), where p_k >= f_k, and the squeeze of step S keeps k when
    6 mu^2 u >= (mu - k)^3, which implies the step Q test. Here step I is left to S and Q: the squeeze holds
    for every k >= mu and for all but a fraction 10 / (6 mu^2) of the k from floor(mu - 1.1484) up, and step
    Q keeps those few with certainty. Step N so returns k with probability min(p_k, f_k); the rest of the
    law, (p_k - f_k)+, comes by rejection under a Laplace hat (steps E and H). About 98.5 % of pixels (at
    100 counts) end at step S, which costs one normal, one uniform and a few array operations, in
    :meth:`add`. Steps Q and H use p_k (log-gamma) and f_k (normal CDF) to double precision where the
    original used truncated series, and run once for the whole batch in :meth:`finish`.
    The inequalities the method rests on are checked by the tests. Other means use ``Generator.poisson``.
    Each image's draws come from its own generator in a fixed order, so its values depend only on that
    generator and its means, not on the rest of the batch.
    """

    def __init__(self, work: list[np.ndarray] | None = None) -> None:
        self._rngs: list[np.random.Generator] = []
        self._outs: list[np.ndarray] = []
        self._open: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # image, index, mu, k, u
        self._work = [] if work is None else work  # grown in place, so a caller may hand it to the next batch

    @property
    def size(self) -> int:
        """Images added since the last :meth:`finish`."""
        return len(self._outs)

    def _workspace(self, n: int) -> list[np.ndarray]:
        if not self._work or self._work[0].size < n:
            self._work[:] = [np.empty(n) for _ in range(4)] + [np.empty(n, dtype=bool)]
        return self._work

    def add(self, rng: np.random.Generator, expected: np.ndarray, out: np.ndarray) -> None:
        """Start drawing ``expected`` (counts >= 0) into ``out`` (C-contiguous, same shape); complete after finish()."""
        expected = np.asarray(expected, dtype=np.float64)
        if not out.flags.c_contiguous or out.shape != expected.shape:
            raise ValueError("out must be C-contiguous and of the expected image's shape")
        flat, target = expected.ravel(), out.reshape(-1)
        self._rngs.append(rng)
        self._outs.append(target)
        if not flat.size:
            return
        lo, hi = flat.min(), flat.max()
        if not (lo >= 0 and math.isfinite(hi)):
            raise ValueError(f"expected counts must be finite and >= 0, not in [{lo}, {hi}]")
        if lo >= _PD_MIN and hi <= _PD_MAX:
            where, mu = None, flat
        else:
            inside = (flat >= _PD_MIN) & (flat <= _PD_MAX)
            where = np.flatnonzero(inside)
            mu = flat[where]
        k, u, open_ = _pd_steps_ns(rng, mu, self._workspace(mu.size))
        if where is None:
            target[:] = k
        else:
            target[:] = 0
            target[where] = k
            other = np.flatnonzero(~inside & (flat > 0))
            if other.size:
                target[other] = rng.poisson(flat[other])
        if open_.size:
            index = open_ if where is None else where[open_]
            self._open.append((len(self._outs) - 1, index, mu[open_], k[open_], u[open_]))

    def finish(self) -> None:
        """Steps Q, E and H for the pixels that :meth:`add` left open, all images at once; then start afresh."""
        if not self._open:
            self._rngs, self._outs = [], []
            return
        sizes = [out.size for out in self._outs]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        # Open pixels by their index in all the images laid end to end (so grouped by image, in order).
        where = np.concatenate([o[1] + offsets[o[0]] for o in self._open])
        mu, k, u = (np.concatenate([o[j] for o in self._open]) for j in range(2, 5))
        self._open = []
        done_where, done_k = [], []
        s = np.sqrt(mu)
        z0 = k - mu  # step Q (k < mu here, as the squeeze keeps every k >= mu, so f_k needs no tail care)
        z0 /= s
        f = special.ndtr(z0 + 1.0 / s)
        f -= special.ndtr(z0)
        f *= 1.0 - u
        with np.errstate(divide="ignore", invalid="ignore"):  # k < 0: p_k = 0, and step E follows
            done = f <= _poisson_pmf(k, mu, np.log(mu))
        done &= k >= 0
        done_where.append(where[done])
        done_k.append(k[done])
        keep = ~done
        where, mu = where[keep], mu[keep]
        while where.size:  # steps E and H
            # Each image's generator gives _PD_CANDIDATES candidates for each of its open pixels; a pixel takes
            # the first one the hat test accepts, and the few that accept none draw again.
            image = np.searchsorted(offsets, where, side="right") - 1
            counts = np.bincount(image, minlength=len(self._rngs))
            shape = [(i, (n, _PD_CANDIDATES)) for i, n in enumerate(counts) if n]
            e = np.concatenate([self._rngs[i].standard_exponential(n) for i, n in shape])
            v = np.concatenate([self._rngs[i].random(n) for i, n in shape])
            v *= 2.0
            v -= 1.0
            t = np.copysign(e, v)
            t += 1.8
            rows, j = np.arange(where.size), 0
            while rows.size and j < _PD_CANDIDATES:
                # Candidate j of the open rows; once few are left, all their remaining candidates at once.
                cols = slice(j, j + 1) if rows.size * (_PD_CANDIDATES - j) > _PD_BLOCK else slice(j, None)
                tj, ej, vj = t[rows, cols], e[rows, cols], v[rows, cols]
                mj = np.broadcast_to(mu[rows, None], tj.shape)
                sj = np.sqrt(mj)
                kj = np.floor(mj + sj * tj)
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # gap is 0 where these arise
                    gap = _poisson_pmf(kj, mj, np.log(mj)) - _discrete_normal_pmf(kj, mj, sj)
                    ok = _PD_HAT / mj * np.abs(vj) <= np.exp(ej) * gap
                ok &= tj > _PD_T_MIN
                hit = ok.any(axis=1)
                first = ok.argmax(axis=1)
                done_where.append(where[rows[hit]])
                done_k.append(kj[hit, first[hit]])
                rows = rows[~hit]
                j = cols.stop or _PD_CANDIDATES
            where, mu = where[rows], mu[rows]
        where, k = np.concatenate(done_where), np.concatenate(done_k)
        order = np.argsort(where)
        where, k = where[order], k[order]
        cuts = np.searchsorted(where, offsets)
        for i, out in enumerate(self._outs):
            if cuts[i + 1] > cuts[i]:
                out[where[cuts[i]:cuts[i + 1]] - offsets[i]] = k[cuts[i]:cuts[i + 1]]
        self._rngs, self._outs = [], []


def poisson(rng: np.random.Generator, expected: np.ndarray) -> np.ndarray:
    """An exact Poisson draw of every element of ``expected`` (counts >= 0), as float64 of the same shape.

    The floods' counting noise: a vectorised Ahrens-Dieter sampler (see ``_PoissonBatch``), about twice as
    fast as ``Generator.poisson`` at 100 counts/px. The same generator state gives the same values.
    """
    expected = np.asarray(expected, dtype=np.float64)
    out = np.empty(expected.shape)
    batch = _PoissonBatch()
    batch.add(rng, expected, out)
    batch.finish()
    return out


def _default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _generate(spec: FloodSpec, seed: int, start: int, stop: int, noiseless: bool = False,
              workers: int | None = None) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Images start..stop-1 of the set (spec, seed)."""
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, not {seed}")
    images = np.empty((stop - start, *spec.shape), dtype=np.float32)
    if stop <= start:
        return images, []
    labels, entries = _plan(spec, int(seed), start, stop)
    chunks = [range(s, min(s + _CHUNK, stop)) for s in range(start, stop, _CHUNK)]
    local = threading.local()  # each thread's Poisson work arrays, kept from chunk to chunk of this call

    def run(chunk: range) -> list[dict[str, Any]]:
        lo, hi = chunk.start - start, chunk.stop - start
        if not hasattr(local, "work"):
            local.work = []
        return _fill(images[lo:hi], spec, int(seed), chunk, labels[lo:hi], entries[lo:hi], noiseless, local.work)

    workers = min(workers or _default_workers(), len(chunks))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:  # numpy's array work releases the GIL
            parts = list(pool.map(run, chunks))
    else:
        parts = [run(chunk) for chunk in chunks]
    return images, [record for part in parts for record in part]


def generate_floods(spec: FloodSpec, n: int, seed: int = 0, *, noiseless: bool = False,
                    workers: int | None = None) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """``n`` floods as float32 counts (n, rows, cols) and one ground-truth record per image.

    Each record has ``label`` (0 normal, 1 defect), ``defect`` ("none", "cold_disc", "hot_spot",
    "pmt_failure", "crack"), ``alpha`` (relative depth or height), ``diameter`` (px; a crack's length),
    ``brush`` (edge profile 0-3; 2 for a PMT failure; a crack's width in px; -1 for none), ``row`` and
    ``col`` (the defect's centre, 0-based; -1 for none) and ``counts`` (the spec's mean counts per pixel).
    ``noiseless`` returns the expected images instead of Poisson draws. ``workers`` threads (default: the
    CPU cores, at most 8) share the work without changing the result.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    return _generate(spec, seed, 0, int(n), noiseless, workers)


def write_flood_set(out_dir: str | Path, spec: FloodSpec, n: int, seed: int = 0,
                    progress: Callable[[int], Any] | None = None) -> Path:
    """Write ``images/flood_00000.npy``... and ``manifest.csv`` (columns :data:`MANIFEST_COLUMNS`) to ``out_dir``.

    Images are uint16 counts (float32 for a file whose counts exceed 65535), the same values as
    :func:`generate_floods` gives for (spec, n, seed). The folder is built under a temporary name and
    renamed at the end, so an error leaves no half-written set; an existing flood set there is replaced.
    ``progress(done)`` is called after each step with the number of images written so far.
    """
    out_dir = Path(out_dir)
    check_target(out_dir, "manifest.csv", MANIFEST_COLUMNS, "flood")
    digits = max(5, len(str(max(n - 1, 0))))
    rows = []
    with atomic_dir(out_dir) as tmp:
        (tmp / "images").mkdir()
        for start in range(0, n, _WRITE_CHUNK):
            stop = min(n, start + _WRITE_CHUNK)
            images, records = _generate(spec, seed, start, stop)
            for i, (image, record) in enumerate(zip(images, records), start=start):
                name = f"images/flood_{i:0{digits}d}.npy"
                np.save(tmp / name, image.astype(np.uint16) if image.max() <= 65535 else image)
                rows.append({"file": name, **record})
            if progress is not None:
                progress(stop)
        write_table(tmp / "manifest.csv", MANIFEST_COLUMNS, rows)
    return out_dir


_MANIFEST_TYPES: dict[str, Callable[[str], Any]] = {
    "file": str, "label": int, "defect": str, "alpha": float, "diameter": int, "brush": int, "row": int,
    "col": int, "counts": float}


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``manifest.csv`` written by :func:`write_flood_set`, with typed values."""
    return read_table(path, _MANIFEST_TYPES, hint="make a set with `nmkit qc synth --out DIR`")


__all__ = ["BRUSH_NAMES", "DEFECT_TYPES", "FOV_SHAPES", "MANIFEST_COLUMNS", "PAPER_ALPHAS", "PAPER_DIAMETERS",
           "FloodSpec", "brush_profile", "fov_mask", "generate_floods", "poisson", "read_manifest",
           "write_flood_set"]
